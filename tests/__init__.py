"""The test suite. Every test process, and every process the tests start, runs with the same
keys, so whatever one of them encrypts the others read (app.privacy.keys)."""

import os

TEST_KEYS = {
    "HOTLINE_DATA_KEY": "c2VjcmV0LXRlc3Qta2V5LW9mLXRoZS1ob3RsaW5lISE=",
    "HOTLINE_AUDIT_KEY": "test-audit-key-kept-out-of-the-db",
}
for _name, _value in TEST_KEYS.items():
    os.environ.setdefault(_name, _value)
