"""Running without a public URL: Slack over Socket Mode, VoIPbin over its WebSocket
subscription or by polling ``GET /messages``. The bridge logic is the same as with webhooks:
every delivery ends in ``Bridge.accept`` or the Bolt app from ``build_bolt_app``."""
