# Makes test/ a regular package so that "python3 -m unittest test/test_mock.py" finds it before
# the standard library's own "test" package.
