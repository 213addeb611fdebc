"""The credential table behind `env-no-literal-secrets` and `configmap-no-secrets`, row by row.

The fixtures (tests/policies/fixtures/{env-no-literal-secrets,configmap-no-secrets}) show the
rules end to end; these pin each row of `policies/credential_patterns.py` and each naming
decision, so a regex that stops matching, or starts matching too much, fails here by name.
"""

from __future__ import annotations

import pytest

from policies.credential_patterns import VALUE_PATTERNS, credential_value, segments
from policies.secrets import credential

EXAMPLES = {
    "private-key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n",
    "aws-access-key-id": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "github-token": "ghp_" + "a" * 36,
    "gitlab-token": "glpat-" + "x" * 20,
    "slack-token": "xoxb-0000000000-0000000000-EXAMPLEexample",
    "slack-webhook": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "stripe-key": "sk_live_" + "0" * 24,
    "google-api-key": "AIza" + "A" * 35,
    "npm-token": "npm_" + "a" * 36,
    "pypi-token": "pypi-AgEIcHlwaS5vcmc" + "a" * 60,
    "openai-key": "sk-proj-" + "a" * 20 + "T3BlbkFJ" + "b" * 20,
    "anthropic-key": "sk-ant-api03-" + "a" * 40,
    "sendgrid-key": "SG." + "a" * 22 + "." + "b" * 43,
    "digitalocean-token": "dop_v1_" + "a" * 64,
    "vault-token": "hvs." + "a" * 95,
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJl",
    "url-password": "redis://:hunter2@cache:6379/0",
    "connection-string-password": "Server=db;Database=orders;User Id=app;Password=hunter2;",
    "authorization-header": "Authorization: Bearer abcdefghijklmnop1234",
}

NOT_CREDENTIALS = [
    "-----BEGIN PUBLIC KEY-----",
    "registry.example.com/shop/app:1.4.2@sha256:" + "3f" * 32,
    "oci://registry:5000/shop/app@sha256:" + "3f" * 32,
    "https://auth.example.com/oauth/token",
    "postgres://orders@db:5432/orders",
    "sk_test_short",
    "ghp_tooshort",
    "password=",
    "Bearer",
    "123e4567-e89b-12d3-a456-426614174000",
]


def test_every_row_has_an_example_and_a_source():
    assert set(EXAMPLES) == {p.id for p in VALUE_PATTERNS}
    assert all(p.matches and p.source for p in VALUE_PATTERNS)


@pytest.mark.parametrize("row", sorted(EXAMPLES))
def test_each_value_row_matches_its_example(row: str):
    found = credential_value(EXAMPLES[row])
    assert found is not None and found.id == row


@pytest.mark.parametrize("value", NOT_CREDENTIALS)
def test_values_that_are_not_credentials(value: str):
    assert credential_value(value) is None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("DB_PASS", ("DB", "PASS")),
        ("dbPass", ("DB", "PASS")),
        ("APIKey", ("API", "KEY")),
        ("tls.key", ("TLS", "KEY")),
        ("jwt-signing", ("JWT", "SIGNING")),
    ],
)
def test_names_are_cut_into_words(name: str, words: tuple[str, ...]):
    assert segments(name) == words


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DB_PASS", "hunter2"),
        ("STRIPE_KEY", "abc123"),
        ("JWT_SIGNING", "abc123"),
        ("SLACK_BOT_TOKEN", "abc123"),
        ("PASSWORD_URL", "hunter2"),
        ("ADMINPASSWORD", "hunter2"),
        ("BASIC_AUTH", "user:hunter2"),
        ("ENCRYPTION_KEY", "abc123"),
        ("clientSecret", "abc123"),
        ("DB_PASSWORD_FILE", "hunter2"),
        ("TOKEN_TTL", "hunter2"),
        ("ANYTHING", "[secret]"),
        ("NOTIFIER", EXAMPLES["slack-token"]),
    ],
)
def test_credentials(name: str, value: str):
    assert credential(name, value), f"{name}={value!r} must be flagged"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CACHE_KEY", "orders:v2"),
        ("SORT_KEY", "created_at"),
        ("PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_EXAMPLE"),
        ("AWS_ACCESS_KEY_ID", "ASIDEEXAMPLE"),
        ("KEY_PREFIX", "orders:"),
        ("AUTH_MODE", "oidc"),
        ("PASSWORDLESS_LOGIN", "email-link"),
        ("TOKENIZER", "wordpiece"),
        ("DB_PASSWORD_FILE", "/var/run/secrets/app/DB_PASSWORD"),
        ("PASSWORD_URL", "https://vault.example.com/v1/app/db"),
        ("TOKEN_TTL", "15m"),
        ("TOKEN_EXPIRES_IN", "3600"),
        ("JWT_SIGNING_ALGORITHM", "RS256"),
        ("SECRET_ROTATION_ENABLED", "true"),
        ("API_PASSWORD", "$(DB_PASSWORD)"),
        ("DB_PASSWORD", ""),
        ("DB_PASSWORD", None),
        ("PWD", "/app"),
        ("DATABASE_DSN", "postgres://orders@db:5432/orders"),
    ],
)
def test_not_credentials(name: str, value: str | None):
    assert credential(name, value) is None, f"{name}={value!r} must pass"


def test_the_reason_never_holds_the_value():
    assert "hunter2" not in str(credential("DB_PASS", "hunter2"))
    assert "AKIAIOSFODNN7EXAMPLE" not in str(credential("X", EXAMPLES["aws-access-key-id"]))


def test_the_url_password_pattern_is_linear_on_hostile_values() -> None:
    """A 400 kB run of `a.` once took minutes in the URL pattern (an unbounded scheme
    retried at every position). A hang guard, not a speed target: quadratic time on this
    input is hours, linear is well under a second, the limit is a minute."""
    import subprocess
    import sys

    code = (
        "from policies.credential_patterns import VALUE_PATTERNS as V;"
        "[p.regex.search('a.' * 200_000 + ' a:' * 1000) for p in V]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("row", [p.id for p in VALUE_PATTERNS])
def test_every_match_of_a_format_holds_the_text_that_lets_it_be_searched(row: str) -> None:
    """`NEEDS` lets `credential_value` skip a format's regex when the value holds none of
    its texts; that is only right if every match holds one. Hypothesis draws values the
    regex matches (with surrounding text) and checks each."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from policies.credential_patterns import NEEDS

    pattern = next(p for p in VALUE_PATTERNS if p.id == row)
    needs, fold = NEEDS[row]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.from_regex(pattern.regex))
    def check(value: str) -> None:
        assert pattern.regex.search(value)
        text = value.casefold() if fold else value
        assert any(n in text for n in needs), value

    check()
    assert credential_value(EXAMPLES[row]) is not None
