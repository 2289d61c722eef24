// Package uitest holds the browser end-to-end tests of the web pages: a
// real headless Chromium drives the dashboard and the worker page against
// a real server. It has no code of its own outside the tests.
package uitest
