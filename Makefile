# The two commands of the README: `make run` and `make test`.
GO ?= go
export CGO_ENABLED := 1

.PHONY: run test deps build lint

## run: build and start the server with the demo scenario (embedded storage).
run: build
	./bin/dispatchd -config configs/dispatchd.json

## test: install what the tests need, then lint and run every test with -race.
test: deps lint
	$(GO) test -race -count=1 ./...

deps:
	./scripts/deps.sh

build: deps
	$(GO) build -o bin/dispatchd ./cmd/dispatchd

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
