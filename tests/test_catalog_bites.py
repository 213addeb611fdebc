"""Each catalog check refuses what it must, with its message, and accepts the nearest valid value.

Every refusal is asserted together with the message that names the field and what is allowed,
and next to it the closest value that must pass, so a flipped comparison, a dropped branch or a
replaced pattern in stacks/catalog.py (or in the component field it takes) fails a test here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from slipway.errors import BadInput
from stacks.catalog import Service, load_catalog, parse_service
from tests.test_catalog import GOOD

SOURCE = "services/extra.yaml"
DIGEST = "sha256:" + "0123456789abcdef" * 4

BASE: dict[str, Any] = {
    "name": "extra",
    "team": "web",
    "image": "ghcr.io/acme/extra",
    "version": {"tag": "1.0.0"},
    "ports": [{"name": "http", "port": 8080}],
    "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
}


def doc(**changes: Any) -> dict[str, Any]:
    """The good document with top-level keys replaced (camelCase, as in the file)."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(changes))
    return data


def parse(data: dict[str, Any], env: str = "dev") -> Service:
    return parse_service(data, env, SOURCE)


def refused(data: dict[str, Any], env: str = "dev") -> str:
    """The refusal's message, one line; fails when the document is accepted."""
    with pytest.raises(BadInput) as info:
        parse(data, env)
    message = " ".join(str(info.value).split())
    assert message.startswith(f"{SOURCE}: "), message
    return message


# --- 1. strategy.maxSurge / strategy.maxUnavailable --------------------------------------------

ROLLING_FIELDS = [("maxSurge", "max_surge"), ("maxUnavailable", "max_unavailable")]

BAD_PERCENTAGES = [
    "101%",  # above 100
    "110%",
    "200%",
    "1000%",
    "01%",  # leading zero
    "00%",
    "-1%",  # negative
    "25.5%",  # not whole
    "25",  # a number written as text, without %
    "%",
    "",
    "25 %",
    " 25%",
    "x25%",
    "25%x",  # trailing junk: the pattern is anchored at the end
    "100%%",
]
GOOD_PERCENTAGES = ["0%", "1%", "9%", "10%", "25%", "50%", "90%", "99%", "100%"]


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", BAD_PERCENTAGES)
def test_rolling_percentage_out_of_shape_is_refused(key: str, attr: str, value: str) -> None:
    message = refused(doc(strategy={key: value}))
    assert f"strategy.{key}: {value!r} is neither a count nor a percentage like 25%" in message


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", GOOD_PERCENTAGES)
def test_rolling_whole_percentage_up_to_100_is_accepted(key: str, attr: str, value: str) -> None:
    other = "maxUnavailable" if key == "maxSurge" else "maxSurge"
    svc = parse(doc(strategy={key: value, other: 1}))
    assert getattr(svc.strategy, attr) == value


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", [-1, -2, -100])
def test_rolling_negative_count_is_refused(key: str, attr: str, value: int) -> None:
    message = refused(doc(strategy={key: value}))
    assert f"strategy.{key}: {value} must be ≥ 0 (given: {value})" in message


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", [0, 1, 2, 1000])
def test_rolling_count_from_zero_is_accepted(key: str, attr: str, value: int) -> None:
    other = "maxUnavailable" if key == "maxSurge" else "maxSurge"
    svc = parse(doc(strategy={key: value, other: 1}))
    assert getattr(svc.strategy, attr) == value


def test_rolling_long_text_is_shown_shortened() -> None:
    value = "9" * 50 + "%"
    message = refused(doc(strategy={"maxSurge": value}))
    assert f"{'9' * 40!r} (and 11 more) is neither a count nor a percentage" in message


def test_rolling_override_is_checked_like_the_base() -> None:
    message = refused(doc(environments={"prod": {"strategy": {"maxUnavailable": "101%"}}}))
    assert "with environments.prod applied: strategy.maxUnavailable: '101%' is neither" in message
    svc = parse(doc(environments={"prod": {"strategy": {"maxUnavailable": "100%"}}}), "prod")
    assert svc.strategy.max_unavailable == "100%"


# --- 2. version.tag / version.digest -----------------------------------------------------------


def test_tag_latest_is_refused_but_a_tag_starting_with_latest_is_not() -> None:
    message = refused(doc(version={"tag": "latest"}))
    assert "version.tag: tag 'latest' names no build; use a release tag or a digest" in message
    assert parse(doc(version={"tag": "latest-1"})).version.tag == "latest-1"
    assert parse(doc(version={"tag": "Latest"})).version.tag == "Latest"


@pytest.mark.parametrize(
    "tag",
    ["-1.0", ".1.0", "1.0/x", "1.0 ", "1.0:x", "1.0@x", "v1+build", "a" * 129, "_" + "a" * 128],
)
def test_tag_outside_the_pattern_is_refused(tag: str) -> None:
    message = refused(doc(version={"tag": tag}))
    assert f"version.tag: {tag!r} is not a valid image tag ([A-Za-z0-9_.-], max 128)" in message


@pytest.mark.parametrize("tag", ["1", "_a", "A", "v1.2.3-rc_4", "1.0.", "a" * 128, "_" + "a" * 127])
def test_tag_inside_the_pattern_is_accepted(tag: str) -> None:
    svc = parse(doc(version={"tag": tag}))
    assert svc.version.tag == tag
    assert svc.image_ref == f"ghcr.io/acme/extra:{tag}"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "A" * 64,  # upper-case hex
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:" + "g" * 64,
        "sha512:" + "0" * 64,
        "SHA256:" + "0" * 64,
        "0" * 64,
        "sha256:",
        "xsha256:" + "0" * 64,
    ],
)
def test_digest_outside_the_pattern_is_refused(digest: str) -> None:
    message = refused(doc(version={"digest": digest}))
    assert (
        f"version.digest: {digest!r} is not a digest; expected sha256:<64 lower-case hex>"
        in message
    )


@pytest.mark.parametrize("digest", [DIGEST, "sha256:" + "0" * 64, "sha256:" + "f" * 64])
def test_digest_of_64_lower_case_hex_is_accepted(digest: str) -> None:
    svc = parse(doc(version={"digest": digest}))
    assert svc.version.digest == digest
    assert svc.version.tag is None
    assert svc.image_ref == f"ghcr.io/acme/extra@{digest}"


@pytest.mark.parametrize(
    "version", [{}, {"tag": None}, {"digest": None}, {"tag": None, "digest": None}]
)
def test_version_needs_a_tag_or_a_digest(version: dict[str, Any]) -> None:
    message = refused(doc(version=version))
    assert "version: give a tag, a digest, or both" in message


def test_version_with_a_tag_a_digest_or_both_is_accepted() -> None:
    assert parse(doc(version={"tag": "1.0.0"})).image_ref == "ghcr.io/acme/extra:1.0.0"
    assert parse(doc(version={"digest": DIGEST})).image_ref == f"ghcr.io/acme/extra@{DIGEST}"
    both = parse(doc(version={"tag": "1.0.0", "digest": DIGEST}))
    assert both.image_ref == f"ghcr.io/acme/extra:1.0.0@{DIGEST}"


# --- 3. image -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/extra:1.0.0",
        "ghcr.io/acme/extra:latest",
        f"ghcr.io/acme/extra@{DIGEST}",
        f"ghcr.io/acme/extra:1.0@{DIGEST}",
        "localhost:5000/acme/extra:1.0",
        "extra:1",
        "@",
    ],
)
def test_image_with_a_tag_or_digest_is_refused(image: str) -> None:
    message = refused(doc(image=image))
    assert f"image: {image!r}: give the repository only; tag and digest go under version" in message


@pytest.mark.parametrize(
    "image",
    [
        "GHCR.io/acme/extra",
        "ghcr.io/Acme/extra",
        "ghcr.io//extra",
        "ghcr.io/acme/extra/",
        "/acme/extra",
        "ghcr.io/acme/-extra",
        "ghcr.io/acme/extra-",
        "ghcr.io/acme/ex tra",
        "ghcr.io:port/acme",
        "",
    ],
)
def test_image_outside_the_repository_pattern_is_refused(image: str) -> None:
    message = refused(doc(image=image))
    assert f"image: {image!r} is not an image repository (e.g. ghcr.io/acme/orders)" in message


@pytest.mark.parametrize(
    "image",
    [
        "extra",
        "ghcr.io/acme/extra",
        "localhost:5000/acme/extra",
        "registry.example.com:443/team/sub/extra",
        "ghcr.io/acme/my_app.v2-x",
        "ghcr.io/acme/a_b",
    ],
)
def test_image_repository_is_accepted(image: str) -> None:
    svc = parse(doc(image=image))
    assert svc.image == image
    assert svc.image_ref == f"{image}:1.0.0"


# --- 4. environments.<env> ----------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
@pytest.mark.parametrize("forbidden", ["name", "team", "environments"])
def test_identity_keys_cannot_be_overridden(env: str, forbidden: str) -> None:
    value: Any = {} if forbidden == "environments" else "other"
    message = refused(doc(environments={env: {forbidden: value}}))
    assert f"environments: environments.{env}.{forbidden} cannot be overridden" in message


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_other_keys_may_be_overridden(env: str) -> None:
    override = {
        "replicas": 4,
        "image": "ghcr.io/acme/other",
        "version": {"tag": "2.0.0"},
        "config": {"LEVEL": "debug"},
        "public": True,
        "costCenter": "payments",
    }
    svc = parse(doc(environments={env: override}), env)
    assert svc.name == "extra" and svc.team == "web"
    assert svc.replicas == 4
    assert svc.image_ref == "ghcr.io/acme/other:2.0.0"
    assert svc.config == {"LEVEL": "debug"}
    assert svc.public is True and svc.cost_center == "payments"
    assert svc.override == override


def test_unknown_environment_names_the_allowed_ones() -> None:
    message = refused(doc(environments={"qa": {"replicas": 1}}))
    assert "environments: unknown environment 'qa'; allowed: dev, staging, prod" in message


# --- 5. ports -----------------------------------------------------------------------------------


def test_duplicate_port_names_are_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "http", "port": 8081}]
    message = refused(doc(ports=ports))
    assert "port names must be unique; got ['http', 'http']" in message


def test_duplicate_port_numbers_are_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 8080}]
    message = refused(doc(ports=ports))
    assert "port numbers must be unique; got [8080, 8080]" in message


def test_duplicate_port_in_an_override_is_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 8080}]
    message = refused(doc(environments={"prod": {"ports": ports}}))
    assert "with environments.prod applied:" in message
    assert "port numbers must be unique; got [8080, 8080]" in message


def test_distinct_port_names_and_numbers_are_accepted() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 8081}]
    svc = parse(doc(ports=ports))
    assert [(p.name, p.port) for p in svc.ports] == [("http", 8080), ("metrics", 8081)]


# --- 6. secrets and config ----------------------------------------------------------------------


def test_duplicate_secret_env_names_are_refused() -> None:
    secrets = [{"env": "TOKEN", "key": "a"}, {"env": "TOKEN", "key": "b"}]
    message = refused(doc(secrets=secrets))
    assert "secret env names must be unique; got ['TOKEN', 'TOKEN']" in message


def test_distinct_secret_env_names_are_accepted() -> None:
    secrets = [{"env": "TOKEN", "key": "a"}, {"env": "TOKEN_2", "key": "a"}]
    svc = parse(doc(secrets=secrets))
    assert [s.env for s in svc.secrets] == ["TOKEN", "TOKEN_2"]


def test_a_name_in_both_config_and_secrets_is_refused() -> None:
    secrets = [{"env": "TOKEN", "key": "tok"}, {"env": "DB_PASSWORD", "key": "db"}]
    config = {"TOKEN": "x", "DB_PASSWORD": "y", "LEVEL": "info"}
    message = refused(doc(secrets=secrets, config=config))
    assert "['DB_PASSWORD', 'TOKEN'] are both config and secrets; pick one" in message


def test_config_clashing_with_a_secret_through_an_override_is_refused() -> None:
    data = doc(secrets=[{"env": "TOKEN", "key": "tok"}])
    data["environments"] = {"staging": {"config": {"TOKEN": "plain"}}}
    message = refused(data)
    assert "with environments.staging applied:" in message
    assert "['TOKEN'] are both config and secrets; pick one" in message


def test_config_and_secrets_with_different_names_are_accepted() -> None:
    svc = parse(doc(secrets=[{"env": "TOKEN", "key": "tok"}], config={"TOKEN_URL": "x"}))
    assert [s.env for s in svc.secrets] == ["TOKEN"]
    assert svc.config == {"TOKEN_URL": "x"}


# --- 7. load_catalog: the folder ----------------------------------------------------------------


def test_missing_catalog_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "services"
    with pytest.raises(BadInput, match="catalog folder not found") as info:
        load_catalog(missing, "dev")
    assert info.value.file == str(missing)


def test_a_file_in_place_of_the_catalog_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(GOOD)
    with pytest.raises(BadInput, match="catalog folder not found"):
        load_catalog(path, "dev")


@pytest.mark.parametrize("contents", [[], ["README.md", "extra.yaml.bak", "notes.txt"]])
def test_catalog_folder_without_yaml_files_is_refused(tmp_path: Path, contents: list[str]) -> None:
    for name in contents:
        (tmp_path / name).write_text(GOOD)
    (tmp_path / "nested.yaml").mkdir()  # a folder named like a service file is no service
    with pytest.raises(BadInput, match=r"catalog folder has no \*\.yaml service files") as info:
        load_catalog(tmp_path, "dev")
    assert info.value.file == str(tmp_path)


@pytest.mark.parametrize("filename", ["extra.yaml", "extra.yml"])
def test_catalog_folder_with_one_service_file_is_loaded(tmp_path: Path, filename: str) -> None:
    (tmp_path / filename).write_text(GOOD)
    (tmp_path / "README.md").write_text("not a service")
    (svc,) = load_catalog(tmp_path, "dev")
    assert svc.name == "extra"
    assert svc.source == str(tmp_path / filename)


# A YAML block scalar (`maxSurge: |`) ends its value with a newline; `$` alone matches before
# it, so each check must match the whole value.
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strategy": {"maxSurge": "25%\n"}}, "strategy.maxSurge"),
        ({"version": {"tag": "1.0.0\n"}}, "version"),
        ({"version": {"digest": "sha256:" + "a" * 64 + "\n"}}, "version"),
        ({"image": "ghcr.io/acme/extra\n"}, "image"),
        ({"config": {"LOG_LEVEL\n": "info"}}, "config"),
    ],
)
def test_a_value_ending_in_a_newline_is_refused(changes: dict[str, Any], field: str) -> None:
    message = refused(doc(**changes))
    assert field in message, message
