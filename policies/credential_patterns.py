"""What a credential looks like: its well-known value formats and the names people give it.

This is our own table, kept here so it can be reviewed and extended row by row. Each row names
what it matches and where the idea comes from; the sources are maintained secret scanners, read
for which credentials matter and how they are shaped, not copied:

- gitleaks, default config `config/gitleaks.toml` (rule ids quoted as `gitleaks:<id>`),
- detect-secrets, `KeywordDetector.DENYLIST` in `detect_secrets/plugins/keyword.py` and its
  `BasicAuthDetector` (quoted as `detect-secrets:...`),
- GitHub secret scanning and its token formats (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
  `github_pat_`; GitHub blog "Behind GitHub's new authentication token formats", 2021).

How a name is judged (`credential_name`), and why:

1. The name is cut into segments at `_`, `-`, `.`, spaces and camelCase humps
   (`dbPass` -> DB PASS, `APIKey` -> API KEY, `tls.key` -> TLS KEY).
2. A segment (or run of segments) in `NAME_WORDS` makes it a credential name wherever it sits:
   `DB_PASS`, `PASSWORD_URL`, `JWT_SIGNING`, `SLACK_BOT_TOKEN`, `CLIENT_SECRET`.
3. `KEY` and `AUTH` are too common to count anywhere, so they count only as the *last*
   segment (`STRIPE_KEY`, `MASTER_KEY`, `tls.key`, `BASIC_AUTH`), never as a prefix
   (`KEY_PREFIX`, `AUTH_MODE`), and a last `KEY` after a word in `NON_SECRET_KEY_KINDS`
   names an identifier, not a secret (`CACHE_KEY`, `SORT_KEY`, `PUBLIC_KEY`, `SITE_KEY`).
4. A name whose last segments describe a credential instead of holding it is let go, but
   only when the value is what the name says: `*_FILE`/`*_PATH` with a path, `*_URL`/`*_HOST`
   with a location, `*_TTL`/`*_LENGTH` with a number or duration (`DESCRIBES`); a few
   describe it with free text (`*_NAME`, `*_ID`, `*_HEADER`, `*_ALGORITHM`: `LABELS`).
   So `DB_PASSWORD_FILE=/run/secrets/db` passes, `DB_PASSWORD_FILE=hunter2` does not,
   `OAUTH_TOKEN_URL=https://auth.example.com/token` passes, `PASSWORD_URL=hunter2` does not.

A value is a credential, whatever its name, when it matches a row of `VALUE_PATTERNS`
(a URL with a password in it included, so `PASSWORD_URL=postgres://u:pw@db` is caught).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ValuePattern:
    """A well-known credential format: its id, regex, what it matches, and its source."""

    id: str
    regex: re.Pattern[str]
    matches: str
    source: str


def _v(id: str, regex: str, matches: str, source: str, flags: int = 0) -> ValuePattern:
    return ValuePattern(id, re.compile(regex, flags), matches, source)


VALUE_PATTERNS: tuple[ValuePattern, ...] = (
    _v(
        "private-key",
        r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
        "a PEM private key (RSA, EC, OpenSSH, PKCS#8, PGP)",
        "gitleaks:private-key",
    ),
    _v(
        "aws-access-key-id",
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        "an AWS access key id (long-term AKIA, temporary ASIA)",
        "gitleaks:aws-access-token",
    ),
    _v(
        "github-token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,}",
        "a GitHub personal, OAuth, app, refresh or fine-grained token",
        "GitHub secret scanning token prefixes; gitleaks:github-pat, github-fine-grained-pat",
    ),
    _v(
        "gitlab-token",
        r"\bglpat-[A-Za-z0-9_-]{20,}",
        "a GitLab personal access token",
        "gitleaks:gitlab-pat",
    ),
    _v(
        "slack-token",
        r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",
        "a Slack bot, user, app or legacy token",
        "gitleaks:slack-bot-token, slack-user-token, slack-app-token",
    ),
    _v(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
        "a Slack incoming-webhook URL (posting rights in its path)",
        "gitleaks:slack-webhook-url",
    ),
    _v(
        "stripe-key",
        r"\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}",
        "a Stripe secret or restricted key",
        "gitleaks:stripe-access-token",
    ),
    _v(
        "google-api-key",
        r"\bAIza[A-Za-z0-9_-]{35}",
        "a Google Cloud API key",
        "gitleaks:gcp-api-key",
    ),
    _v(
        "npm-token",
        r"\bnpm_[A-Za-z0-9]{36}\b",
        "an npm access token",
        "gitleaks:npm-access-token",
    ),
    _v(
        "pypi-token",
        r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
        "a PyPI upload token",
        "gitleaks:pypi-upload-token",
    ),
    _v(
        "openai-key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]+",
        "an OpenAI API key",
        "gitleaks:openai-api-key",
    ),
    _v(
        "anthropic-key",
        r"\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{20,}",
        "an Anthropic API key",
        "gitleaks:anthropic-api-key",
    ),
    _v(
        "sendgrid-key",
        r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b",
        "a SendGrid API key",
        "gitleaks:sendgrid-api-token",
    ),
    _v(
        "digitalocean-token",
        r"\bdo[opr]_v1_[a-f0-9]{64}\b",
        "a DigitalOcean personal, OAuth or refresh token",
        "gitleaks:digitalocean-pat",
    ),
    _v(
        "vault-token",
        r"\bhvs\.[A-Za-z0-9_-]{90,}",
        "a HashiCorp Vault service token",
        "gitleaks:vault-service-token",
    ),
    _v(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
        "a JSON Web Token (a bearer credential until it expires)",
        "gitleaks:jwt",
    ),
    _v(
        "url-password",
        r"\b[a-z][a-z0-9+.-]{0,31}://[^/\s:@]{0,256}:[^/\s@]{1,1024}@",
        "a URL or DSN with a password in it (postgres://app:pw@db, redis://:pw@cache)",
        "detect-secrets:BasicAuthDetector",
        re.IGNORECASE,
    ),
    _v(
        "connection-string-password",
        r"(?:^|[;\s])(?:password|pwd)\s*=\s*[^;\s]",
        "a key=value connection string with a password (Server=db;Password=...)",
        "detect-secrets:KeywordDetector (password, pwd)",
        re.IGNORECASE,
    ),
    _v(
        "authorization-header",
        r"\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/-]{16,}=*",
        "an HTTP Authorization value (RFC 6750 bearer token, RFC 7617 basic credentials)",
        "gitleaks:generic-api-key (auth keyword); RFC 6750, RFC 7617",
    ),
)
"""Values that are credentials whatever they are called."""


@dataclass(frozen=True)
class NameWord:
    """Segments that name a credential, what they mean, and where the word comes from.

    A one-segment word of five letters or more also matches as the end of a segment, for
    names written solid (`ADMINPASSWORD`, `GITHUBTOKEN`), but never as its start
    (`PASSWORDLESS`, `TOKENIZER`, `SECRETARY` are not credentials).
    """

    segments: tuple[str, ...]
    matches: str
    source: str
    last_only: bool = False


def _w(words: str, matches: str, source: str, last_only: bool = False) -> list[NameWord]:
    """One row per spelling (`API KEY` and `APIKEY` are both in use)."""
    return [NameWord(tuple(w.split()), matches, source, last_only) for w in words.split(",")]


NAME_WORDS: tuple[NameWord, ...] = (
    *_w(
        "PASSWORD,PASSWORDS,PASSWD,PASS,PWD,PASSPHRASE,KEYPASS,DBPASS",
        "a password",
        "detect-secrets:DENYLIST (password, passwd, pass, pwd, keypass, db_pass); "
        "gitleaks:generic-api-key (passw(or)?d)",
    ),
    *_w(
        "SECRET,SECRETS,SECRETKEY",
        "a shared secret (client secret, secret key, session secret)",
        "detect-secrets:DENYLIST (secret); gitleaks:generic-api-key (secret)",
    ),
    *_w(
        "TOKEN,TOKENS",
        "a token (API, bot, access, refresh)",
        "detect-secrets:DENYLIST (token); gitleaks:generic-api-key (token)",
    ),
    *_w(
        "CREDENTIAL,CREDENTIALS,CREDS",
        "credentials",
        "gitleaks:generic-api-key (credential, creds)",
    ),
    *_w(
        "API KEY,APIKEY,APP KEY,APPKEY,PRIVATE KEY,PRIVATEKEY,PRIV KEY,PRIVKEY,"
        "ACCESS KEY,ACCESSKEY,AUTH KEY,AUTHKEY",
        "an API, app, private, access or auth key",
        "detect-secrets:DENYLIST (api_key, app_key, private_key, priv_key, auth_key, "
        "aws_secret_access_key); gitleaks:generic-api-key (api, access, auth, key)",
    ),
    *_w(
        "SIGNING",
        "a signing key (JWT, cookie, webhook HMAC)",
        "gitleaks:mailgun-signing-key; slipway (JWT_SIGNING, SIGNING_KEY)",
    ),
    *_w(
        "KEY",
        "a service or cipher key (STRIPE_KEY, MASTER_KEY, tls.key)",
        "detect-secrets:DENYLIST (service_key, account_key, db_key, client_key); "
        "gitleaks:generic-api-key (key)",
        last_only=True,
    ),
    *_w(
        "AUTH",
        "auth credentials (BASIC_AUTH, REDIS_AUTH)",
        "gitleaks:generic-api-key (auth)",
        last_only=True,
    ),
)
"""Name segments that say "this holds a credential"."""

NON_SECRET_KEY_KINDS = frozenset(
    {
        "CACHE",
        "SORT",
        "PARTITION",
        "PRIMARY",
        "FOREIGN",
        "ROUTING",
        "IDEMPOTENCY",
        "LOOKUP",
        "HASH",
        "RANGE",
        "SHARD",
        "OBJECT",
        "PUBLIC",
        "PUB",
        "PUBLISHABLE",
        "SITE",
    }
)
"""Words before a last `KEY` that make it an identifier or a public value: cache and sort keys,
database and queue keys, object keys, public keys, Stripe publishable and captcha site keys."""

NOT_NAMES = frozenset({"PWD", "OLDPWD"})
"""Whole names that look like credentials and are not: the shell's working directories."""

PATH_VALUE = re.compile(r"^(?:/|\./|\.\./|~/)\S*$")
LOCATION_VALUE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://\S+|localhost(?::\d+)?|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?"
    r"(?:/\S*)?)$",
    re.IGNORECASE,
)
MEASURE_VALUE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w)?|P[0-9YMWDTHS.]+)$", re.IGNORECASE)

DESCRIBES: dict[tuple[str, ...], re.Pattern[str]] = {
    **{(s,): PATH_VALUE for s in ("FILE", "PATH", "DIR", "MOUNT", "LOCATION")},
    **{(s,): LOCATION_VALUE for s in ("URL", "URI", "ENDPOINT", "HOST", "ADDR", "ADDRESS")},
    **{
        (s,): MEASURE_VALUE
        for s in (
            "TTL",
            "TIMEOUT",
            "EXPIRY",
            "EXPIRATION",
            "LIFETIME",
            "AGE",
            "LENGTH",
            "LEN",
            "SIZE",
            "BITS",
            "COUNT",
            "RETRIES",
            "PORT",
            "SECONDS",
            "INTERVAL",
        )
    },
    ("EXPIRES", "IN"): MEASURE_VALUE,
}
"""Last segments that point at or measure a credential, with the value they must have."""

LABELS = frozenset(
    {
        "NAME",
        "NAMES",
        "ID",
        "IDS",
        "ARN",
        "REF",
        "HEADER",
        "TYPE",
        "ALGORITHM",
        "ALG",
        "ISSUER",
        "AUDIENCE",
        "SCOPE",
        "SCOPES",
        "VERSION",
        "FORMAT",
        "PREFIX",
        "FIELD",
        "PARAM",
        "PROVIDER",
        "POLICY",
        "STORE",
        "BACKEND",
        "SOURCE",
        "MANAGER",
        "MODE",
        "STRATEGY",
        "KIND",
    }
)
"""Last segments that label a credential with free text (its name, id, header, algorithm)."""

_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[_\-.\s/]+")


def segments(name: str) -> tuple[str, ...]:
    """A name's words, upper-cased: `dbPass` -> (DB, PASS), `tls.key` -> (TLS, KEY)."""
    return tuple(s.upper() for s in _SEPARATORS.split(_HUMP.sub("_", name)) if s)


def _ends_with(segs: tuple[str, ...], tail: tuple[str, ...]) -> bool:
    return len(segs) >= len(tail) and segs[-len(tail) :] == tail


def _find(segs: tuple[str, ...], word: NameWord) -> bool:
    n = len(word.segments)
    if word.last_only:
        return _ends_with(segs, word.segments)
    if n == 1 and len(word.segments[0]) >= 5:
        return any(s.endswith(word.segments[0]) for s in segs)
    return any(segs[i : i + n] == word.segments for i in range(len(segs) - n + 1))


def credential_name(name: str, value: str) -> NameWord | None:
    """The row that makes `name` (holding `value`) a credential name, or None.

    See the module doc for the order: words anywhere, `KEY`/`AUTH` last only, then the
    describing suffixes that let a name go when its value is a path, location or number.
    """
    segs = segments(name)
    if not segs or name.upper() in NOT_NAMES:
        return None
    for tail, shape in DESCRIBES.items():
        if _ends_with(segs, tail) and len(segs) > len(tail) and shape.match(value.strip()):
            return None
    if segs[-1] in LABELS and len(segs) > 1:
        return None
    for word in NAME_WORDS:
        if not _find(segs, word):
            continue
        if word.segments == ("KEY",) and len(segs) > 1 and segs[-2] in NON_SECRET_KEY_KINDS:
            continue
        return word
    return None


NEEDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "private-key": (("-----BEGIN",), False),
    "aws-access-key-id": (("A3T", "AKIA", "ASIA", "ABIA", "ACCA"), False),
    "github-token": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), False),
    "gitlab-token": (("glpat-",), False),
    "slack-token": (("xox", "xapp-"), False),
    "slack-webhook": (("hooks.slack.com/",), False),
    "stripe-key": (("_live_", "_test_", "_prod_"), False),
    "google-api-key": (("AIza",), False),
    "npm-token": (("npm_",), False),
    "pypi-token": (("pypi-AgEIcHlwaS5vcmc",), False),
    "openai-key": (("T3BlbkFJ",), False),
    "anthropic-key": (("sk-ant-",), False),
    "sendgrid-key": (("SG.",), False),
    "digitalocean-token": (("_v1_",), False),
    "vault-token": (("hvs.",), False),
    "jwt": (("eyJ",), False),
    "url-password": (("://",), False),
    "connection-string-password": (("password", "pwd"), True),
    "authorization-header": (("Bearer", "Basic"), False),
}
"""Per format: text that every match contains (one of), and whether it is compared with the
value case-folded. A value without any is not searched with that format's regex: ConfigMaps
hold dashboards and rule files of tens of kilobytes, and twenty regex scans of each were a
third of a repository's check. A property test draws matches of each regex and checks they
all contain one (tests/test_credentials_rule.py)."""


def credential_value(value: str) -> ValuePattern | None:
    """The first well-known credential format `value` contains, or None."""
    lowered: str | None = None
    for pattern in VALUE_PATTERNS:
        needs, fold = NEEDS[pattern.id]
        if fold and lowered is None:
            lowered = value.casefold()  # what IGNORECASE matches (ſ is s, K is k)
        text = lowered if fold else value
        if not any(n in text for n in needs):  # type: ignore[operator]
            continue
        if pattern.regex.search(value):
            return pattern
    return None
