module registryload

go 1.24
