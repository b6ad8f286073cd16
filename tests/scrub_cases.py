"""Log lines and what scrubbing must do to them: one list for both packages' suites, so a
credential masked in authserver's logs is masked in resource_guard's, and the reverse."""

from __future__ import annotations

# (line, the secret that must not survive)
MASKED = [
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("Authorization: Bearer some-opaque-value-123", "some-opaque-value-123"),
    ("Authorization: Bearer abcdefgh12", "abcdefgh12"),
    ("Authorization: Bearer" + " " * 12 + "abcdefgh12", "abcdefgh12"),  # any whitespace, as authserver's rule
    ("password" + " " * 12 + "= hunter2", "hunter2"),
    ("{'access_token': 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'}", "eyJhbGciOiJFUzI1NiJ9"),
    ("token eyJhbGc.eyJzdWIi.sig was refused", "eyJhbGc"),
    ("client_secret=hunter2hunter2&grant_type=x", "hunter2hunter2"),
    ("client_secret: s3 was wrong", "s3 "),
    ("password=hunter2", "hunter2"),
    ('{"password": "correct horse"}', "correct"),
    ("code_verifier=abcdefghijk", "abcdefghijk"),
    ("issued asat_" + "A" * 36 + " to someone", "asat_"),
    ("refresh asrt_ARybp1YU1QZnxuAoeYypLhRUOMLhfh3r5wpS failed", "ARybp1YU1QZnxu"),
    ("refresh asrt_ARybp1YU1QZnxu (cut short) failed", "ARybp1YU1QZnxu"),  # authserver's own rule, 8 on
    ("refresh asrt_ARybp1YU1QZnxuAoeYypLhRUOMLhfh3r5wpSxx (typo) failed", "ARybp1YU1QZnxu"),
    ("api token rgapi_" + "b" * 36 + " unknown", "rgapi_"),
    # one of each authserver prefix (secrets.TokenKind), so resource_guard's suite masks them too
    ("code asac_kMgXtJXCEKu0Qr0uzuRxZiV2MgsDBH2PVpDt redeemed twice", "kMgXtJXCEKu0Qr0u"),
    ("secret ascs_AisgeWjBImZ9UU3knFVreJ1JL2kXF21QY3Gt rotated", "AisgeWjBImZ9UU3k"),
    ("api token asapi_UKzgHSvdLl9cxVuMhEdt688r1iS2jU2XXb12 revoked", "UKzgHSvdLl9cxVuM"),
    ("session asbs_SpLJH2Lj8qBYlqC68wOXPb5f44F80O1laXtC ended", "SpLJH2Lj8qBYlqC6"),
    ("initial token asiat_AM9rq0alKCVCFWJkJhVXm1THCK5ArW3lHWgb spent", "AM9rq0alKCVCFWJk"),
    ("registration token asrat_QOchjlxu0TXrxalnM8ctpzV28aYVhw380DVg refused", "QOchjlxu0TXrxaln"),
]

# Lines with nothing secret in them, which must come out unchanged.
KEPT = [
    '127.0.0.1 "POST /oauth/token" 200 598 token_type=Bearer',
    "token_type_hint=refresh_token",
    "KeyError: 'user_id'",
    "GET /health/ready 200",
    "grant_type=client_credentials response_type=code authorization_code",
    'File "/srv/site_packages/resource_guard/tokens.py", line 41, in check_token_format',
]

# Lines an attacker can make (a header, a parameter echoed into a log) whose scan must stay
# linear: each took seconds under the unbounded patterns (``'token' * 5000``: 4 s).
HOSTILE = ["token" * 5000, "password" * 3000, "api_key" * 3000, "Bearer " * 5000, "token " + "\t" * 20000 + "=",
           "eyJ" + "a" * 50000, "ab_" + "A" * 50000, "a_1" * 20000, "ab_" * 20000,
           ("password" + " " * 100) * 500, "bearer " + " " * 50000 + "x"]
