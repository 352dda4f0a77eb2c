module example.com/shop

go 1.22

require (
	example.com/codec v0.9.1
	example.com/parser v1.4.0
)
