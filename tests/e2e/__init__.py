"""End-to-end tests: a real Home Assistant process, real HTTP, a real browser."""
