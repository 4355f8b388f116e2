"""GitHub: the API client, webhooks, repository connections and release sync."""
