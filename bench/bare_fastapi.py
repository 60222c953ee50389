"""A bare FastAPI endpoint answering constant TwiML: the floor for the webhook benchmark.

It reads the form (as any webhook must) and answers the same reply to everyone; no signature
check, nothing persisted. bench/webhook_bench.py runs it on uvicorn:

    .venv/bin/python -m uvicorn --app-dir bench bare_fastapi:app --port 8098
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thank you for contacting the'
    " incident hotline, a responder will contact you shortly.</Message></Response>"
)

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/twilio/sms")
async def inbound_sms(request: Request) -> Response:
    await request.form()
    return Response(TWIML, media_type="application/xml")
