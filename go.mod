module github.com/fibd/fibd

go 1.26.0

require (
	github.com/kentik/patricia v1.2.1
	golang.org/x/sys v0.50.0
)

require github.com/gaissmai/bart v0.30.0 // indirect
