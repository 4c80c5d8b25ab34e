"""Test doubles and fixtures shared by the test folders: the Hub stand-in, PostgreSQL, a served app."""
