# The two commands of the README: `make run` and `make test`.
GO ?= go
export CGO_ENABLED := 1

.PHONY: run test deps ui build lint

## run: build and start the server with the demo scenario (embedded storage).
run: build
	./bin/dispatchd -config configs/dispatchd.json

## test: install what the tests need, build the pages, lint, then every test with -race.
test: deps ui lint
	$(GO) test -race -count=1 -timeout 30m ./...

## deps: Debian packages (redis-server, chromium) and Go modules.
deps:
	./scripts/deps.sh

## ui: the browser pages, from the pinned lockfile, into web/ui/dist (embedded by the binary).
ui:
	cd web/ui && npm ci --no-audit --no-fund --loglevel=error && npm run build

build: deps ui
	$(GO) build -o bin/dispatchd ./cmd/dispatchd

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
