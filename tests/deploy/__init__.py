"""Deployment tests: Dockerfile, manifests, RBAC, HAProxy and the local three-pod topology."""
