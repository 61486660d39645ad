"""Slack: the Bolt app, Block Kit rendering, mrkdwn escaping and the Web API messenger."""
