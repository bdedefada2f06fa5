"""pushsvc's test suite; a package so that ``tests.kubeapi`` (the API emulator) imports."""
