"""Fault-injection tests of deadline settlement: real Celery worker, beat and web processes
against PostgreSQL, Redis and the Stripe stand-in's fault switches (marked `slow`)."""
