"""The web layer: the JSON API's routes (cases, roster, audit log, drills) and Twilio's
status callback. Each route reads its request, calls one domain function, shapes the answer."""
