"""HTML pages for people: accounts, organizations, projects, tokens, repositories."""
