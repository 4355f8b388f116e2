"""Organizations: members, invitations, access tokens, and who a caller is and what it may do."""
