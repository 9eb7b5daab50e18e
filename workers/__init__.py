"""Celery entry point, thin tasks per domain and the beat schedule."""
