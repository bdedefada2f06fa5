"""The shipped test toolkit (pushsvc.testing) used the way a user's project uses it."""
