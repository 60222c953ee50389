from tests.web.conftest import api  # noqa: F401  (the API fixture, for these tests too)
