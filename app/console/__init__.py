"""The chair's console: server-rendered pages over the same rules and writes as the API."""
