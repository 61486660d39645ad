"""The domain: what happens when someone sends, an SMS arrives, or a status changes.

No HTTP here: the domain talks to Slack through a ``Messenger`` and to VoIPbin through an
``SmsGateway`` (see ``ports``), and to the database through ``bot.store``.
"""
