"""A stand-in for the Flask hotline PyCon runs today, for side-by-side benchmarks only.

It does what that service's inbound-SMS route does with Slack switched off: read the form,
print a line, answer TwiML. It validates nothing and persists nothing. Served by waitress with
eight threads, as that service is.
"""

from __future__ import annotations

import os
import sys

from flask import Flask, request
from twilio.twiml.messaging_response import MessagingResponse
from waitress import serve

app = Flask(__name__)


@app.route("/incoming_sms", methods=["POST"])
def incoming_sms() -> str:
    sender = request.values.get("From")
    request.values.get("Body")
    int(request.values.get("NumMedia", "0"))
    print(f"Incoming SMS from {sender}")
    reply = MessagingResponse()
    reply.message(
        f"Thank you for contacting the incident hotline, a responder will contact you at {sender}."
    )
    return str(reply)


if __name__ == "__main__":
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - as under a process manager
    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8)
