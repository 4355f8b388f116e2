"""Endpoints for machines: the simple index, files, uploads, webhooks, health."""
