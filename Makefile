# Vigil: the README's quick start is `make run` and `make test`.
SWIFT ?= swift
VIGIL_DEBUG := .build/debug/vigil
VIGIL_RELEASE := .build/release/vigil

.PHONY: setup build run test lint bench release deb install

## Install what is missing (apt: libsystemd-dev, pkg-config, dpkg-dev, lintian, …; pip: jsonschema), idempotently.
setup:
	./scripts/setup

build: setup
	$(SWIFT) build --product vigil

## Build and run the daemon on the embedded default: ./var/spool, ./var/state, ./Rules.
run: build
	$(VIGIL_DEBUG) serve

## Every test: format lint, the Debian package (the package tests install it), unit tests and the
## integration tests that drive the real binary.
test: setup lint deb
	$(SWIFT) test --disable-swift-testing

lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

## The release binary, with the Swift runtime linked in (it runs on a host without the toolchain).
release: setup
	./scripts/build-release

## The Debian package: .build/deb/vigil_VERSION_amd64.deb (see scripts/package).
deb: setup
	./scripts/package

## Durable ingest rate vs. the file-system floor (see the README for the figures).
bench: release
	$(VIGIL_RELEASE) bench ingest

## Install into the FHS places (DESTDIR and PREFIX honoured; see scripts/install).
install: release
	./scripts/install
