"""People: accounts, passwords, sessions, sign-up, two-factor, emailed links, sign-in rate limits."""
