"""The Kubernetes client side the bus, the Job notifier and presence share: the watch loop."""
