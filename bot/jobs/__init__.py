"""The durable job runner (an outbox): every side effect is a job row, claimed and retried here."""
