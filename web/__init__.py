"""The web portal: server-rendered pages per role and the housing companies' upload API."""
