"""Each catalog check refuses what it must, with its whole message, and accepts the nearest
valid value; the catalog's readers (the folder, the YAML document, the error formatter, the
override merge) say exactly what they say.

Every refusal is asserted as the whole message, file and field included, and next to it the
closest value that must pass, so a flipped comparison, a dropped branch, a replaced pattern or
a changed word in stacks/catalog.py (or in the component field it takes) fails a test here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from slipway.errors import BadInput
from slipway.yamlfile import SafeLoader
from stacks.catalog import (
    MAX_DOC_BYTES,
    Pause,
    Service,
    Spec,
    Strategy,
    _format_errors,
    _loc,
    check_config_keys,
    deep_merge,
    duration_seconds,
    load_catalog,
    load_yaml_document,
    parse_service,
    version_field,
)
from stacks.config import StackConfig
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
    """The refusal's whole message; fails when the document is accepted."""
    with pytest.raises(BadInput) as info:
        parse(data, env)
    assert info.value.file == SOURCE
    return str(info.value)


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
    "25%\n",  # a YAML block scalar's final newline: `$` alone would match before it
]
GOOD_PERCENTAGES = ["0%", "1%", "9%", "10%", "25%", "50%", "90%", "99%", "100%"]


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", BAD_PERCENTAGES)
def test_rolling_percentage_out_of_shape_is_refused(key: str, attr: str, value: str) -> None:
    assert refused(doc(strategy={key: value})) == (
        f"{SOURCE}: strategy.{key}: {value!r} is neither a count nor a percentage like 25% "
        f"(given: {value!r})"
    )


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", GOOD_PERCENTAGES)
def test_rolling_whole_percentage_up_to_100_is_accepted(key: str, attr: str, value: str) -> None:
    other = "maxUnavailable" if key == "maxSurge" else "maxSurge"
    svc = parse(doc(strategy={key: value, other: 1}))
    assert getattr(svc.strategy, attr) == value


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", [-1, -2, -100])
def test_rolling_negative_count_is_refused(key: str, attr: str, value: int) -> None:
    assert refused(doc(strategy={key: value})) == (
        f"{SOURCE}: strategy.{key}: {value} must be ≥ 0 (given: {value})"
    )


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
@pytest.mark.parametrize("value", [0, 1, 2, 1000])
def test_rolling_count_from_zero_is_accepted(key: str, attr: str, value: int) -> None:
    other = "maxUnavailable" if key == "maxSurge" else "maxSurge"
    svc = parse(doc(strategy={key: value, other: 1}))
    assert getattr(svc.strategy, attr) == value


def test_rolling_defaults_are_a_quarter_surge_and_nothing_unavailable() -> None:
    svc = parse(doc())
    assert (svc.strategy.max_surge, svc.strategy.max_unavailable) == ("25%", 0)


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
def test_rolling_text_of_40_characters_is_shown_whole(key: str, attr: str) -> None:
    value = "9" * 39 + "%"
    assert refused(doc(strategy={key: value})) == (
        f"{SOURCE}: strategy.{key}: {value!r} is neither a count nor a percentage like 25% "
        f"(given: {value!r})"
    )


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
def test_rolling_long_text_is_shown_shortened(key: str, attr: str) -> None:
    value = "9" * 50 + "%"
    assert refused(doc(strategy={key: value})) == (
        f"{SOURCE}: strategy.{key}: {'9' * 40!r} (and 11 more) is neither a count nor a "
        f"percentage like 25% (given: {value!r})"
    )


@pytest.mark.parametrize(("key", "attr"), ROLLING_FIELDS)
def test_rolling_none_is_neither_a_count_nor_text(key: str, attr: str) -> None:
    assert refused(doc(strategy={key: None})) == (
        f"{SOURCE}: strategy.{key}.int: must be a whole number (given: None); "
        f"strategy.{key}.str: must be text (given: None)"
    )


def test_rolling_override_is_checked_like_the_base() -> None:
    message = refused(doc(environments={"prod": {"strategy": {"maxUnavailable": "101%"}}}))
    assert message == (
        f"{SOURCE}: with environments.prod applied: strategy.maxUnavailable: '101%' is neither "
        "a count nor a percentage like 25% (given: '101%')"
    )
    svc = parse(doc(environments={"prod": {"strategy": {"maxUnavailable": "100%"}}}), "prod")
    assert svc.strategy.max_unavailable == "100%"


# --- 2. version.tag / version.digest -----------------------------------------------------------


def test_tag_latest_is_refused_but_a_tag_starting_with_latest_is_not() -> None:
    assert refused(doc(version={"tag": "latest"})) == (
        f"{SOURCE}: version.tag: tag 'latest' names no build; use a release tag or a digest "
        "(given: 'latest')"
    )
    assert parse(doc(version={"tag": "latest-1"})).version.tag == "latest-1"
    assert parse(doc(version={"tag": "Latest"})).version.tag == "Latest"


@pytest.mark.parametrize(
    "tag",
    ["-1.0", ".1.0", "1.0/x", "1.0 ", "1.0:x", "1.0@x", "v1+build", "1.0.0\n", "", "é1"],
)
def test_tag_outside_the_pattern_is_refused(tag: str) -> None:
    assert refused(doc(version={"tag": tag})) == (
        f"{SOURCE}: version.tag: {tag!r} is not a valid image tag ([A-Za-z0-9_.-], max 128) "
        f"(given: {tag!r})"
    )


@pytest.mark.parametrize("tag", ["a" * 129, "_" + "a" * 128])
def test_tag_over_128_characters_is_refused(tag: str) -> None:
    given = repr(tag)[:77] + "..."
    assert refused(doc(version={"tag": tag})) == (
        f"{SOURCE}: version.tag: {tag!r} is not a valid image tag ([A-Za-z0-9_.-], max 128) "
        f"(given: {given})"
    )


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
        "sha256:" + "a" * 64 + "\n",
    ],
)
def test_digest_outside_the_pattern_is_refused(digest: str) -> None:
    shown = repr(digest)
    given = shown if len(shown) <= 80 else shown[:77] + "..."
    assert refused(doc(version={"digest": digest})) == (
        f"{SOURCE}: version.digest: {digest!r} is not a digest; expected sha256:<64 lower-case "
        f"hex> (given: {given})"
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
    assert refused(doc(version=version)) == (
        f"{SOURCE}: version: give a tag, a digest, or both (given: a mapping)"
    )


def test_a_slot_version_needs_a_tag_or_a_digest_too() -> None:
    strategy = {"type": "blue-green", "slots": {"blue": {"version": {}}}}
    assert refused(doc(strategy=strategy)) == (
        f"{SOURCE}: strategy.slots.blue.version: give a tag, a digest, or both (given: a mapping)"
    )


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
    shown = repr(image)
    given = shown if len(shown) <= 80 else shown[:77] + "..."
    assert refused(doc(image=image)) == (
        f"{SOURCE}: image: {image!r}: give the repository only; tag and digest go under version "
        f"(given: {given})"
    )


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
        "ghcr.io/ac:me/extra",
        "ghcr.io/acme/extra\n",
        "",
    ],
)
def test_image_outside_the_repository_pattern_is_refused(image: str) -> None:
    assert refused(doc(image=image)) == (
        f"{SOURCE}: image: {image!r} is not an image repository (e.g. ghcr.io/acme/orders) "
        f"(given: {image!r})"
    )


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
    assert refused(doc(environments={env: {forbidden: value}})) == (
        f"{SOURCE}: environments: environments.{env}.{forbidden} cannot be overridden "
        "(given: a mapping)"
    )


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


def test_every_key_but_name_team_and_environments_may_be_overridden() -> None:
    written = Service.model_validate(doc()).model_dump(by_alias=True, mode="json")
    fields = {f.alias or n for n, f in Service.model_fields.items()}
    may = sorted(fields - {"name", "team", "environments"})
    assert len(may) == len(fields) - 3
    for key in may:
        svc = parse(doc(environments={"prod": {key: written[key]}}), "prod")
        assert svc.override == {key: written[key]}, key


def test_unknown_environment_names_the_allowed_ones() -> None:
    assert refused(doc(environments={"qa": {"replicas": 1}})) == (
        f"{SOURCE}: environments: unknown environment 'qa'; allowed: dev, staging, prod "
        "(given: a mapping)"
    )


# --- 5. ports -----------------------------------------------------------------------------------


def test_duplicate_port_names_are_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "http", "port": 8081}]
    assert refused(doc(ports=ports)) == (
        f"{SOURCE}: (top level): port names must be unique; got ['http', 'http'] (given: a mapping)"
    )


def test_duplicate_port_numbers_are_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 8080}]
    assert refused(doc(ports=ports)) == (
        f"{SOURCE}: (top level): port numbers must be unique; got [8080, 8080] (given: a mapping)"
    )


def test_duplicate_port_in_an_override_is_refused() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 8080}]
    assert refused(doc(environments={"prod": {"ports": ports}})) == (
        f"{SOURCE}: with environments.prod applied: (top level): port numbers must be unique; "
        "got [8080, 8080] (given: a mapping)"
    )


def test_distinct_port_names_and_numbers_are_accepted() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "metrics", "port": 8081}]
    svc = parse(doc(ports=ports))
    assert [(p.name, p.port) for p in svc.ports] == [("http", 8080), ("metrics", 8081)]


def test_a_probe_on_an_undeclared_port_is_refused() -> None:
    probes = {"liveness": {"path": "/healthz", "port": "admin"}, "readiness": {"path": "/ready"}}
    assert refused(doc(probes=probes)) == (
        f"{SOURCE}: (top level): probe port 'admin' is not one of the ports ['http'] "
        "(given: a mapping)"
    )


# --- 6. secrets and config ----------------------------------------------------------------------


def test_duplicate_secret_env_names_are_refused() -> None:
    secrets = [{"env": "TOKEN", "key": "a"}, {"env": "TOKEN", "key": "b"}]
    assert refused(doc(secrets=secrets)) == (
        f"{SOURCE}: (top level): secret env names must be unique; got ['TOKEN', 'TOKEN'] "
        "(given: a mapping)"
    )


def test_distinct_secret_env_names_are_accepted() -> None:
    secrets = [{"env": "TOKEN", "key": "a"}, {"env": "TOKEN_2", "key": "a"}]
    svc = parse(doc(secrets=secrets))
    assert [s.env for s in svc.secrets] == ["TOKEN", "TOKEN_2"]


def test_a_name_in_both_config_and_secrets_is_refused() -> None:
    secrets = [{"env": "TOKEN", "key": "tok"}, {"env": "DB_PASSWORD", "key": "db"}]
    config = {"TOKEN": "x", "DB_PASSWORD": "y", "LEVEL": "info"}
    assert refused(doc(secrets=secrets, config=config)) == (
        f"{SOURCE}: (top level): ['DB_PASSWORD', 'TOKEN'] are both config and secrets; pick one "
        "(given: a mapping)"
    )


def test_config_clashing_with_a_secret_through_an_override_is_refused() -> None:
    data = doc(secrets=[{"env": "TOKEN", "key": "tok"}])
    data["environments"] = {"staging": {"config": {"TOKEN": "plain"}}}
    assert refused(data) == (
        f"{SOURCE}: with environments.staging applied: (top level): ['TOKEN'] are both config "
        "and secrets; pick one (given: a mapping)"
    )


def test_config_and_secrets_with_different_names_are_accepted() -> None:
    svc = parse(doc(secrets=[{"env": "TOKEN", "key": "tok"}], config={"TOKEN_URL": "x"}))
    assert [s.env for s in svc.secrets] == ["TOKEN"]
    assert svc.config == {"TOKEN_URL": "x"}


def test_config_keys_that_are_no_environment_variable_names_are_refused_sorted() -> None:
    config = {"b b": "1", "OK": "2", "1A": "3", "LEVEL\n": "4"}
    assert refused(doc(config=config)) == (
        f"{SOURCE}: config: config keys ['1A', 'LEVEL\\n', 'b b'] are not environment variable "
        "names ([A-Za-z_][A-Za-z0-9_]*) (given: a mapping)"
    )


def test_config_key_check_returns_the_config_it_accepts() -> None:
    config = {"A": "1", "_b2": "2"}
    assert check_config_keys(config) is config
    with pytest.raises(ValueError) as info:
        check_config_keys({"A-B": "1"})
    assert str(info.value) == (
        "config keys ['A-B'] are not environment variable names ([A-Za-z_][A-Za-z0-9_]*)"
    )


def test_a_secret_env_that_is_no_environment_variable_name_is_refused() -> None:
    assert refused(doc(secrets=[{"env": "1TOKEN", "key": "tok"}])) == (
        f"{SOURCE}: secrets[0].env: '1TOKEN' is not an environment variable name "
        "([A-Za-z_][A-Za-z0-9_]*) (given: '1TOKEN')"
    )


# --- 7. load_catalog: the folder ----------------------------------------------------------------


def service_text(name: str, extra: str = "") -> str:
    return GOOD.replace("name: extra", f"name: {name}") + extra


def test_missing_catalog_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "services"
    with pytest.raises(BadInput) as info:
        load_catalog(missing, "dev")
    assert str(info.value) == f"{missing}: catalog folder not found"
    assert (info.value.file, info.value.field) == (str(missing), None)


def test_a_file_in_place_of_the_catalog_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(GOOD)
    with pytest.raises(BadInput) as info:
        load_catalog(path, "dev")
    assert str(info.value) == f"{path}: catalog folder not found"


@pytest.mark.parametrize("contents", [[], ["README.md", "extra.yaml.bak", "notes.txt"]])
def test_catalog_folder_without_yaml_files_is_refused(tmp_path: Path, contents: list[str]) -> None:
    for name in contents:
        (tmp_path / name).write_text(GOOD)
    (tmp_path / "nested.yaml").mkdir()  # a folder named like a service file is no service
    with pytest.raises(BadInput) as info:
        load_catalog(tmp_path, "dev")
    assert str(info.value) == f"{tmp_path}: catalog folder has no *.yaml service files"
    assert (info.value.file, info.value.field) == (str(tmp_path), None)


@pytest.mark.parametrize("filename", ["extra.yaml", "extra.yml"])
def test_catalog_folder_with_one_service_file_is_loaded(tmp_path: Path, filename: str) -> None:
    (tmp_path / filename).write_text(GOOD)
    (tmp_path / "README.md").write_text("not a service")
    (tmp_path / "nested.yaml").mkdir()
    (svc,) = load_catalog(tmp_path, "dev")
    assert svc.name == "extra"
    assert svc.source == str(tmp_path / filename)


def test_catalog_is_returned_sorted_by_service_name_not_by_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(service_text("zeta"))
    (tmp_path / "b.yml").write_text(service_text("alpha"))
    (tmp_path / "c.yaml").write_text(service_text("mid"))
    assert [s.name for s in load_catalog(tmp_path, "dev")] == ["alpha", "mid", "zeta"]


def test_catalog_applies_the_environment_asked_for(tmp_path: Path) -> None:
    text = service_text("extra", "environments:\n  prod: {replicas: 5}\n")
    (tmp_path / "extra.yaml").write_text(text)
    assert [s.replicas for s in load_catalog(tmp_path, "prod")] == [5]
    assert [s.replicas for s in load_catalog(tmp_path, "dev")] == [2]


def test_duplicate_service_names_are_refused_naming_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(service_text("extra"))
    (tmp_path / "b.yaml").write_text(service_text("extra"))
    with pytest.raises(BadInput) as info:
        load_catalog(tmp_path, "dev")
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert str(info.value) == (f"{second}: name: duplicate service name 'extra' (also in {first})")
    assert (info.value.file, info.value.field) == (str(second), "name")


def test_allow_from_naming_no_service_is_refused_in_its_own_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(service_text("web", "allowFrom: [ghost, zed, api]\n"))
    (tmp_path / "b.yaml").write_text(service_text("api"))
    (tmp_path / "c.yaml").write_text(service_text("zed"))
    with pytest.raises(BadInput) as info:
        load_catalog(tmp_path, "dev")
    path = tmp_path / "a.yaml"
    assert str(info.value) == (
        f"{path}: allowFrom: names no service of the catalog: ['ghost']; "
        "known: ['api', 'web', 'zed']"
    )
    assert (info.value.file, info.value.field) == (str(path), "allowFrom")


def test_allow_from_naming_services_of_the_catalog_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(service_text("web", "allowFrom: [zed, api]\n"))
    (tmp_path / "b.yaml").write_text(service_text("api", "allowFrom: [web]\n"))
    (tmp_path / "c.yaml").write_text(service_text("zed"))
    services = load_catalog(tmp_path, "dev")
    assert [(s.name, s.allow_from) for s in services] == [
        ("api", ["web"]),
        ("web", ["api", "zed"]),
        ("zed", []),
    ]


def test_a_bad_file_of_the_catalog_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(service_text("alpha"))
    (tmp_path / "b.yaml").write_text(service_text("beta", "replicas: many\n"))
    with pytest.raises(BadInput) as info:
        load_catalog(tmp_path, "dev")
    assert str(info.value) == (
        f"{tmp_path / 'b.yaml'}: replicas: must be a whole number (given: 'many')"
    )


# --- 8. one YAML document -----------------------------------------------------------------------


def read_refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    with pytest.raises(BadInput) as info:
        load_yaml_document(path)
    assert info.value.file == str(path)
    return str(info.value).removeprefix(f"{path}: ")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_document_is_refused(tmp_path: Path, text: str) -> None:
    assert read_refused(tmp_path, text) == "file is empty; expected a service definition"


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("hello\n", "str"), ("5\n", "int")]
)
def test_a_document_that_is_no_mapping_is_refused(tmp_path: Path, text: str, kind: str) -> None:
    assert read_refused(tmp_path, text) == f"expected a mapping at the top level, got {kind}"


def test_a_document_up_to_256_kib_is_read_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_DOC_BYTES - 4) + "\n")
    assert len(load_yaml_document(path)["a"]) == MAX_DOC_BYTES - 4
    assert MAX_DOC_BYTES == 256 * 1024
    text = "a: " + "x" * (MAX_DOC_BYTES - 3) + "\n"
    assert read_refused(tmp_path, text) == "file is 262145 bytes; the limit is 262144"


def test_a_yaml_alias_is_refused_where_it_stands(tmp_path: Path) -> None:
    text = "a: &x {b: 1}\nc: *x\n"
    assert read_refused(tmp_path, text) == (
        "YAML syntax error: line 2, column 4: YAML aliases are not allowed in the catalog"
    )


def test_an_anchor_without_an_alias_is_read(tmp_path: Path) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text("a: &x {b: 1}\nc: 2\n")
    assert load_yaml_document(path) == {"a": {"b": 1}, "c": 2}


@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        ("a: 1\nb: 2\na: 3\n", "line 3, column 1", "'a'"),
        ("a:\n  b: 1\n  b: 2\n", "line 3, column 3", "'b'"),
        ("a:\n  - {b: 1, b: 2}\n", "line 2, column 12", "'b'"),
        ("1: a\n1: b\n", "line 2, column 1", "1"),
        ("1: a\ntrue: b\n", "line 2, column 1", "True"),
        ("? [x]\n: 1\nb: 1\nb: 2\n", "line 4, column 1", "'b'"),
        ("top:\n  ? [x]\n  : 1\n  b: 1\n  b: 2\n", "line 5, column 3", "'b'"),
    ],
)
def test_a_duplicate_key_is_refused_where_it_repeats(
    tmp_path: Path, text: str, where: str, key: str
) -> None:
    assert read_refused(tmp_path, text) == f"YAML syntax error: {where}: duplicate key {key}"


def test_an_unhashable_key_alone_is_refused_by_the_yaml_reader(tmp_path: Path) -> None:
    assert read_refused(tmp_path, "? [x]\n: 1\n") == (
        "YAML syntax error: line 1, column 3: found unhashable key"
    )


def test_distinct_keys_at_every_depth_are_read(tmp_path: Path) -> None:
    path = tmp_path / "extra.yaml"
    path.write_text("a: {b: 1, c: [{b: 2, d: 3}]}\nb: {b: 4}\n1: x\n'1': y\n")
    assert load_yaml_document(path) == {
        "a": {"b": 1, "c": [{"b": 2, "d": 3}]},
        "b": {"b": 4},
        1: "x",
        "1": "y",
    }


# --- 9. the error message: the file's terms -----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"team": 5}, "team: must be text (given: 5)"),
        ({"replicas": [1]}, "replicas: must be a whole number (given: a list)"),
        ({"replicas": None}, "replicas: must be a whole number (given: None)"),
        ({"replicas": "x"}, "replicas: must be a whole number (given: 'x')"),
        ({"replicas": 1.5}, "replicas: must be a whole number (given: 1.5)"),
        (
            {"strategy": {"mesh": {"timeoutSeconds": None}}},
            "strategy.mesh.timeoutSeconds: must be a number (given: None)",
        ),
        (
            {"strategy": {"mesh": {"timeoutSeconds": "x"}}},
            "strategy.mesh.timeoutSeconds: must be a number (given: 'x')",
        ),
        ({"public": None}, "public: must be true or false (given: None)"),
        ({"public": "maybe"}, "public: must be true or false (given: 'maybe')"),
        ({"ports": "x"}, "ports: must be a list (given: 'x')"),
        ({"ports": {}}, "ports: must be a list (given: a mapping)"),
        ({"config": "x"}, "config: must be a mapping (given: 'x')"),
        ({"config": ("A",)}, "config: must be a mapping (given: a list)"),
        ({"strategy": "x"}, "strategy: must be a mapping (given: 'x')"),
        ({"strategy": [1]}, "strategy: must be a mapping (given: a list)"),
        ({"resources": {"requests": 1}}, "resources.requests: must be a mapping (given: 1)"),
        ({"slo": "x"}, "slo: must be a mapping (given: 'x')"),
    ],
)
def test_a_wrong_type_is_said_in_the_files_terms(changes: dict[str, Any], expected: str) -> None:
    assert refused(doc(**changes)) == f"{SOURCE}: {expected}"


def test_a_missing_field_is_required_without_a_given_value() -> None:
    data = doc()
    del data["team"]
    assert refused(data) == f"{SOURCE}: team: is required"


def test_every_error_is_listed_in_order_and_the_first_field_is_returned() -> None:
    with pytest.raises(ValidationError) as info:
        Service.model_validate(doc(replicas="x", public="maybe"))
    assert _format_errors(info.value) == (
        "replicas",
        "replicas: must be a whole number (given: 'x'); public: must be true or false "
        "(given: 'maybe')",
    )
    with pytest.raises(ValidationError) as info:
        Service.model_validate({})
    assert _format_errors(info.value) == (
        "name",
        "name: is required; team: is required; image: is required; version: is required; "
        "ports: is required; probes: is required",
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"strategy": {"type": "x"}},
            "strategy.type: must be 'rolling', 'blue-green' or 'canary' (given: 'x')",
        ),
        ({"ports": []}, "ports: must have at least 1 item, not 0 (given: a list)"),
        (
            {"secrets": [{"env": "A", "key": ""}]},
            "secrets[0].key: must have at least 1 character (given: '')",
        ),
        ({"replicas": -1}, "replicas: must be greater than or equal to 0 (given: -1)"),
        (
            {"strategy": {"steps": [{"pause": {"duration": "5x"}}]}},
            "strategy.steps[0].pause.duration: '5x' is not a duration; use e.g. 30s, 5m or 1h "
            "(given: '5x')",
        ),
    ],
)
def test_a_rule_is_said_without_pydantics_wording(changes: dict[str, Any], expected: str) -> None:
    assert refused(doc(**changes)) == f"{SOURCE}: {expected}"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"autoscaling": {"minReplicas": 3, "maxReplicas": 1}},
            "autoscaling: minReplicas 3 exceeds maxReplicas 1 (given: a mapping)",
        ),
        (
            {"autoscaling": {"cpuUtilization": None}},
            "autoscaling: autoscaling needs cpuUtilization and/or memoryUtilization "
            "(given: a mapping)",
        ),
        (
            {"strategy": {"type": "canary", "weight": 10}},
            "strategy: weight 10 needs a canary track: declare canary.version first "
            "(given: a mapping)",
        ),
    ],
)
def test_a_component_rule_names_fields_as_the_file_spells_them(
    changes: dict[str, Any], expected: str
) -> None:
    assert refused(doc(**changes)) == f"{SOURCE}: {expected}"


def test_a_value_with_no_attributes_is_no_mapping() -> None:
    with pytest.raises(ValidationError) as info:
        Strategy.model_validate(5, from_attributes=True)
    assert _format_errors(info.value) == (
        "(top level)",
        "(top level): must be a mapping (given: 5)",
    )


class _Asserted(BaseModel):
    count: int

    @field_validator("count")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise AssertionError("count must be above 0")
        return v


def test_an_assertion_is_said_without_its_prefix() -> None:
    with pytest.raises(ValidationError) as info:
        _Asserted.model_validate({"count": 0})
    assert _format_errors(info.value) == ("count", "count: count must be above 0 (given: 0)")


@pytest.mark.parametrize(
    ("length", "given"),
    [(78, "'" + "x" * 78 + "'"), (79, "'" + "x" * 76 + "..."), (200, "'" + "x" * 76 + "...")],
)
def test_a_given_value_over_80_characters_is_cut_to_80(length: int, given: str) -> None:
    assert len(given) <= 80
    assert refused(doc(replicas="x" * length)) == (
        f"{SOURCE}: replicas: must be a whole number (given: {given})"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"replicaz": 3}, "replicaz: unknown field; did you mean `replicas`? (given: 3)"),
        ({"zzzzzz": 1}, "zzzzzz: unknown field (given: 1)"),
        (
            {"strategy": {"maxSurg": 1}},
            "strategy.maxSurg: unknown field; did you mean `maxSurge`? (given: 1)",
        ),
        (
            {"strategy": {"mesh": {"retriez": {}}}},
            "strategy.mesh.retriez: unknown field; did you mean `retries`? (given: a mapping)",
        ),
        (
            {"strategy": {"mesh": {"outlierDetection": {"intervalSecond": 5}}}},
            "strategy.mesh.outlierDetection.intervalSecond: unknown field; did you mean "
            "`intervalSeconds`? (given: 5)",
        ),
        (
            {"ports": [{"name": "http", "port": 8080, "protocl": "TCP"}]},
            "ports[0].protocl: unknown field; did you mean `protocol`? (given: 'TCP')",
        ),
        (
            {"strategy": {"slots": {"blue": {"versio": {}}}}},
            "strategy.slots.blue.versio: unknown field; did you mean `version`? (given: a mapping)",
        ),
        (
            {"strategy": {"steps": [{"setWeigt": 1}]}},
            "strategy.steps[0].setWeigt: unknown field; did you mean `setWeight`? (given: 1)",
        ),
        (
            {"strategy": {"canary": {"version": {"tagg": "1"}}}},
            "strategy.canary.version.tagg: unknown field; did you mean `tag`? (given: '1')",
        ),
        (
            {"slo": {"availabilty": 99}},
            "slo.availabilty: unknown field; did you mean `availabilityTarget`? (given: 99)",
        ),
        (
            {"probes": {"liveness": {"path": "/", "prot": "http"}, "readiness": {"path": "/"}}},
            "probes.liveness.prot: unknown field; did you mean `port`? (given: 'http')",
        ),
    ],
)
def test_an_unknown_field_names_the_closest_field_of_its_mapping(
    changes: dict[str, Any], expected: str
) -> None:
    assert refused(doc(**changes)) == f"{SOURCE}: {expected}"


STACK: dict[str, Any] = {
    "environment": "dev",
    "targets": [
        {"name": "local", "cloud": "existing", "region": "local", "kubeconfigContext": "kind"}
    ],
}


def stack_errors(**changes: Any) -> tuple[str, str]:
    data = {**copy.deepcopy(STACK), **changes}
    with pytest.raises(ValidationError) as info:
        StackConfig.model_validate(data)
    return _format_errors(info.value, prefix="slipway")


def test_a_stack_file_error_is_said_under_its_namespace() -> None:
    target = {"name": "local", "cloud": "existing", "region": "local", "kubeconfigContex": "x"}
    assert stack_errors(targets=[target]) == (
        "slipway.targets[0].kubeconfigContex",
        "slipway.targets[0].kubeconfigContex: unknown field; did you mean `kubeconfigContext`? "
        "(given: 'x')",
    )
    assert stack_errors(namespacePrefx="a-") == (
        "slipway.namespacePrefx",
        "slipway.namespacePrefx: unknown field; did you mean `namespacePrefix`? (given: 'a-')",
    )


def test_a_stack_file_rule_on_the_whole_file_is_said_under_the_namespace() -> None:
    assert stack_errors(platformStack="dev-platform") == (
        "slipway",
        "slipway: platformStack is for layer 'services' (this stack's: all) (given: a mapping)",
    )
    with pytest.raises(ValidationError) as info:
        StackConfig.model_validate("x", from_attributes=True)
    assert _format_errors(info.value, prefix="slipway") == (
        "slipway",
        "slipway: must be a mapping (given: 'x')",
    )


def test_the_location_is_written_as_the_yaml_path() -> None:
    assert _loc([]) == "(top level)"
    assert _loc(["ports"]) == "ports"
    assert _loc(["ports", 0, "port"]) == "ports[0].port"
    assert _loc(["a", 1, 2, "b", "c"]) == "a[1][2].b.c"
    assert _loc([0, "a"]) == "[0].a"


# --- 10. parse_service: the environment's override ----------------------------------------------


def test_every_environments_override_is_checked_whichever_is_chosen() -> None:
    data = doc(environments={"prod": {"replicas": -1}})
    for env in ("dev", "staging", "prod"):
        assert refused(data, env) == (
            f"{SOURCE}: with environments.prod applied: replicas: must be greater than or "
            "equal to 0 (given: -1)"
        )


def test_broken_overrides_are_reported_in_environment_name_order() -> None:
    data = doc(environments={"staging": {"replicas": -2}, "prod": {"replicas": -1}})
    assert refused(data) == (
        f"{SOURCE}: with environments.prod applied: replicas: must be greater than or equal "
        "to 0 (given: -1)"
    )


def test_the_chosen_environments_override_is_merged_over_the_base() -> None:
    overrides = {
        "prod": {"replicas": 5, "config": {"LEVEL": "warn"}},
        "staging": {"replicas": 3},
    }
    data = doc(config={"LEVEL": "info", "MODE": "a"}, environments=overrides)
    staging = parse(data, "staging")
    assert (staging.replicas, staging.config) == (3, {"LEVEL": "info", "MODE": "a"})
    assert staging.override == {"replicas": 3}
    assert staging.source == SOURCE
    prod = parse(data, "prod")
    assert (prod.replicas, prod.config) == (5, {"LEVEL": "warn", "MODE": "a"})
    assert prod.override == {"replicas": 5, "config": {"LEVEL": "warn"}}
    dev = parse(data, "dev")
    assert (dev.replicas, dev.config) == (2, {"LEVEL": "info", "MODE": "a"})
    assert dev.override == {}
    assert dev.source == SOURCE
    assert dev.environments == overrides


def test_an_empty_override_reads_as_no_override() -> None:
    svc = parse(doc(environments={"prod": {}}), "prod")
    assert (svc.override, svc.replicas, svc.source) == ({}, 2, SOURCE)


def test_a_base_error_is_said_without_an_environment() -> None:
    data = doc(replicas=-1, environments={"prod": {"replicas": 2}})
    assert refused(data, "prod") == (
        f"{SOURCE}: replicas: must be greater than or equal to 0 (given: -1)"
    )


# --- 11. version_field: where a version is declared ---------------------------------------------

TRACKS: dict[str, Any] = {
    "type": "canary",
    "canary": {"version": {"tag": "2.0.0"}},
    "slots": {"blue": {"version": {"tag": "1.0.0"}}, "green": {"version": {"tag": "1.1.0"}}},
}


@pytest.mark.parametrize(
    ("track", "expected"),
    [
        (None, "version"),
        ("canary", "strategy.canary.version"),
        ("blue", "strategy.slots.blue.version"),
        ("green", "strategy.slots.green.version"),
    ],
)
def test_a_version_without_an_override_is_the_files_own(track: str | None, expected: str) -> None:
    svc = parse(doc(strategy=TRACKS))
    assert version_field(svc, track, "dev") == expected


@pytest.mark.parametrize(
    ("track", "expected"),
    [
        (None, "version"),
        ("canary", "environments.prod.strategy.canary.version"),
        ("green", "environments.prod.strategy.slots.green.version"),
        ("blue", "strategy.slots.blue.version"),
    ],
)
def test_a_version_the_override_declares_is_named_under_the_environment(
    track: str | None, expected: str
) -> None:
    override = {
        "version": {"tag": "9.0.0"},
        "strategy": {
            "canary": {"version": {"tag": "3.0.0"}},
            "slots": {"green": {"version": {"tag": "1.2.0"}}, "blue": {"config": {"A": "b"}}},
        },
    }
    svc = parse(doc(strategy=TRACKS, environments={"prod": override}), "prod")
    assert version_field(svc, track, "prod") == expected


def test_a_track_the_override_gives_only_config_keeps_the_files_version() -> None:
    override = {"strategy": {"canary": {"config": {"A": "b"}}}}
    svc = parse(doc(strategy=TRACKS, environments={"staging": override}), "staging")
    assert version_field(svc, "canary", "staging") == "strategy.canary.version"


# --- 12. durations, merging ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(90, 90), ("45s", 45), ("1s", 1), ("5m", 300), ("1m", 60), ("2h", 7200), ("1h", 3600)],
)
def test_a_duration_is_read_in_seconds(given: int | str, seconds: int) -> None:
    assert duration_seconds(given) == seconds
    assert Pause(duration=given).seconds == seconds


@pytest.mark.parametrize("given", ["90", "5x", "1d", "m", "5m\n", " 5m", "1.5h", "-5s", "5M"])
def test_a_duration_in_no_known_unit_is_refused(given: str) -> None:
    with pytest.raises(ValueError) as info:
        duration_seconds(given)
    assert str(info.value) == f"{given!r} is not a duration; use e.g. 30s, 5m or 1h"


def test_a_pause_without_a_duration_waits_for_promotion() -> None:
    assert Pause().seconds is None


def test_deep_merge_merges_maps_and_replaces_everything_else() -> None:
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "l": [1, 2], "s": 1, "m": {"x": 1}, "k": 0}
    override = {"a": {"b": 9, "c": {"e": 4}}, "l": [3], "s": {"y": 2}, "m": 5, "n": None}
    snapshot = copy.deepcopy(base)
    assert deep_merge(base, override) == {
        "a": {"b": 9, "c": {"d": 2, "e": 4}},
        "l": [3],
        "s": {"y": 2},
        "m": 5,
        "k": 0,
        "n": None,
    }
    assert base == snapshot
    assert deep_merge(base, {}) == base and deep_merge(base, {}) is not base


# --- 13. the formatter on shapes the catalog's models may take ----------------------------------


class _Marks(BaseModel):
    """A component-style model: no alias generator, so no file spelling of its own."""

    model_config = ConfigDict(extra="forbid")
    low_mark: int = 0
    high_mark: int = 1

    @model_validator(mode="after")
    def _order(self) -> _Marks:
        if self.low_mark > self.high_mark:
            raise ValueError(f"low_mark {self.low_mark} exceeds high_mark {self.high_mark}")
        return self


class _KindA(Spec):
    kind: Literal["a"]
    min_count: int = 0


class _KindB(Spec):
    kind: Literal["b"]


def _no_x(v: str) -> str:
    if "x" in v:
        raise ValueError(f"{v!r} holds an x")
    return v


class _Shapes(Spec):
    marks: _Marks = _Marks()
    either: _KindA | _KindB | None = None
    count_or_kind: int | _KindA = 0
    tagged: int | Annotated[str, AfterValidator(_no_x)] = 0

    @field_validator("count_or_kind")
    @classmethod
    def _small(cls, v: int | _KindA) -> int | _KindA:
        if isinstance(v, _KindA) and v.min_count > 3:
            raise ValueError(f"min_count {v.min_count} is above 3")
        return v


def shapes_errors(**data: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        _Shapes.model_validate(data)
    return _format_errors(info.value)


def test_a_validators_union_tag_is_left_out_of_the_path() -> None:
    assert shapes_errors(tagged="xy") == (
        "tagged.int",
        "tagged.int: must be a whole number (given: 'xy'); tagged: 'xy' holds an x (given: 'xy')",
    )


def test_an_error_inside_a_union_of_models_names_each_members_tag() -> None:
    assert shapes_errors(either={"kind": "c"}) == (
        "either._KindA.kind",
        "either._KindA.kind: must be 'a' (given: 'c'); either._KindB.kind: must be 'b' "
        "(given: 'c')",
    )
    assert shapes_errors(either={"kind": "a", "kindd": 1}) == (
        "either._KindA.kindd",
        "either._KindA.kindd: unknown field (given: 1); either._KindB.kind: must be 'b' "
        "(given: 'a'); either._KindB.kindd: unknown field (given: 1)",
    )


def test_a_rule_on_a_count_or_model_field_names_the_models_fields_as_the_file_does() -> None:
    assert shapes_errors(countOrKind={"kind": "a", "minCount": 5}) == (
        "countOrKind",
        "countOrKind: minCount 5 is above 3 (given: a mapping)",
    )


def test_a_model_without_file_spellings_keeps_its_field_names() -> None:
    assert shapes_errors(marks={"low_mark": 3, "high_mark": 1}) == (
        "marks",
        "marks: low_mark 3 exceeds high_mark 1 (given: a mapping)",
    )
    assert shapes_errors(marks={"low_mak": 3}) == (
        "marks.low_mak",
        "marks.low_mak: unknown field; did you mean `low_mark`? (given: 3)",
    )


def test_an_unknown_field_of_a_model_outside_the_catalog_gets_no_suggestion() -> None:
    with pytest.raises(ValidationError) as info:
        _Marks.model_validate({"low_mak": 1})
    assert _format_errors(info.value) == ("low_mak", "low_mak: unknown field (given: 1)")


def test_a_syntax_error_is_said_by_the_parser_that_reads_the_file(tmp_path: Path) -> None:
    text = "a: [1, 2\nb: 3\n"
    with pytest.raises(yaml.YAMLError) as info:
        list(yaml.parse(text, Loader=SafeLoader))
    mark = info.value.problem_mark
    assert read_refused(tmp_path, text) == (
        f"YAML syntax error: line {mark.line + 1}, column {mark.column + 1}: {info.value.problem}"
    )


def test_of_two_duplicate_keys_the_shallower_is_reported_first(tmp_path: Path) -> None:
    text = "a:\n  x:\n    k: 1\n    k: 2\nb:\n  j: 1\n  j: 2\n"
    assert read_refused(tmp_path, text) == "YAML syntax error: line 7, column 3: duplicate key 'j'"


def test_the_service_an_override_makes_carries_no_overrides_of_its_own() -> None:
    overrides = {"prod": {"replicas": 5}, "staging": {"replicas": 3}}
    prod = parse(doc(environments=overrides), "prod")
    assert (prod.replicas, prod.environments) == (5, {})


# --- the model validators: resources, pauses, steps, slots, the strategy, names, flags ---------

ARGO_CANARY: dict[str, Any] = {"type": "canary", "engine": "argo-rollouts"}


@pytest.mark.parametrize(
    ("kind", "noun", "example"), [("cpu", "CPU", "250m or 1"), ("memory", "memory", "256Mi")]
)
def test_a_resource_quantity_that_is_not_one_is_refused_with_an_example(
    kind: str, noun: str, example: str
) -> None:
    requests = {"cpu": "100m", "memory": "128Mi", kind: "lots"}
    assert refused(doc(resources={"requests": requests})) == (
        f"{SOURCE}: resources.requests.{kind}: 'lots' is not a {noun} quantity "
        f"(e.g. {example}) (given: 'lots')"
    )


@pytest.mark.parametrize("duration", [0, "86401s", "25h"])
def test_a_pause_outside_one_second_to_a_day_is_refused(duration: int | str) -> None:
    steps = [{"pause": {"duration": duration}}]
    assert refused(doc(strategy={**ARGO_CANARY, "steps": steps})) == (
        f"{SOURCE}: strategy.steps[0].pause.duration: pause {duration!r} must be between 1s "
        f"and 24h (given: {duration!r})"
    )


@pytest.mark.parametrize(
    ("duration", "seconds"), [(1, 1), ("1s", 1), (86400, 86400), ("24h", 86400)]
)
def test_a_pause_from_one_second_to_a_whole_day_is_accepted(
    duration: int | str, seconds: int
) -> None:
    svc = parse(doc(strategy={**ARGO_CANARY, "steps": [{"pause": {"duration": duration}}]}))
    assert svc.strategy.steps is not None
    pause = svc.strategy.steps[0].pause
    assert pause is not None and pause.seconds == seconds


@pytest.mark.parametrize("step", [{}, {"setWeight": 5, "pause": {}}])
def test_a_step_of_no_kind_or_of_two_kinds_is_refused_naming_the_kinds(step: dict) -> None:
    assert refused(doc(strategy={**ARGO_CANARY, "steps": [step]})) == (
        f"{SOURCE}: strategy.steps[0]: a step is exactly one of setWeight, pause, "
        "setHeaderRoute, setMirrorRoute or setCanaryReplicas (given: a mapping)"
    )


def test_a_slot_other_than_blue_or_green_is_refused() -> None:
    strategy = {"type": "blue-green", "slots": {"red": {"version": {"tag": "1"}}, "blue": {}}}
    assert refused(doc(strategy=strategy)) == (
        f"{SOURCE}: strategy.slots: unknown slot ['red']; allowed: blue, green (given: a mapping)"
    )


def test_argo_rollouts_with_a_rolling_update_is_refused() -> None:
    assert refused(doc(strategy={"type": "rolling", "engine": "argo-rollouts"})) == (
        f"{SOURCE}: strategy: engine argo-rollouts needs type blue-green or canary "
        "(given: a mapping)"
    )


@pytest.mark.parametrize(
    ("strategy", "here"),
    [
        ({"type": "blue-green"}, "blue-green, native"),
        ({**ARGO_CANARY, "steps": [{"setWeight": 5}]}, "canary, argo-rollouts"),
    ],
)
def test_a_weight_outside_a_native_canary_is_refused(strategy: dict, here: str) -> None:
    assert refused(doc(strategy={**strategy, "weight": 10})) == (
        f"{SOURCE}: strategy: weight 10 applies to type canary with engine native only "
        f"(here: {here}); Argo Rollouts takes weights from steps (given: a mapping)"
    )


def test_a_weight_on_a_native_canary_with_its_track_is_accepted() -> None:
    strategy = {"type": "canary", "weight": 10, "canary": {"version": {"tag": "2"}}}
    assert parse(doc(strategy=strategy)).strategy.weight == 10


def test_an_empty_list_of_steps_is_refused() -> None:
    assert refused(doc(strategy={**ARGO_CANARY, "steps": []})) == (
        f"{SOURCE}: strategy: steps is empty; give at least one step or leave it out "
        "(given: a mapping)"
    )


LABEL_RULE = (
    "is not a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
    "letter or digit, at most 40 characters"
)


@pytest.mark.parametrize("key", ["name", "team"])
def test_a_service_or_team_name_of_41_characters_is_refused_and_40_accepted(key: str) -> None:
    long = "a" * 41
    assert (
        refused(doc(**{key: long})) == f"{SOURCE}: {key}: {long!r} {LABEL_RULE} (given: {long!r})"
    )
    assert getattr(parse(doc(**{key: "a" * 40})), key) == "a" * 40


def test_a_caller_name_of_41_characters_is_refused_and_40_accepted() -> None:
    long = "c" * 41
    assert refused(doc(allowFrom=[long])) == (
        f"{SOURCE}: allowFrom: {long!r} {LABEL_RULE} (given: a list)"
    )
    assert parse(doc(allowFrom=["c" * 40, "b"])).allow_from == ["b", "c" * 40]


def test_a_flag_name_outside_its_characters_is_refused() -> None:
    assert refused(doc(flags={"Bad Flag": True})) == (
        f"{SOURCE}: flags: flag name 'Bad Flag': lower-case letters, digits, '-', '_', '.' "
        "(given: a mapping)"
    )
