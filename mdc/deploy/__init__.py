"""Kubernetes deployment: typed values, the KubeRay renderer and offline validation."""
