"""VoIPbin: the REST client, the JSON models, and the webhook receiver's parsing and signing."""
