"""Offline infra tests (Terraform, topology, staged build, provider schema)."""
