"""The subset of ``curl`` the README uses, in Python, for ``tests/test_readme.py``.

Understands ``-s``, ``-H 'name: value'``, ``-d DATA`` (POST unless ``-X`` says otherwise) and
``-X METHOD``; prints the response body like curl does, whatever the status.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(args: list[str]) -> int:
    url, method, data, headers = None, None, None, {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-s":
            pass
        elif arg == "-H":
            i += 1
            name, _, value = args[i].partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            i += 1
            data = args[i].encode()
        elif arg == "-X":
            i += 1
            method = args[i]
        elif arg.startswith("-"):
            print(f"readme_curl: unsupported option {arg}", file=sys.stderr)
            return 2
        else:
            url = arg
        i += 1
    if url is None:
        print("readme_curl: no URL", file=sys.stderr)
        return 2
    request = urllib.request.Request(url, data=data, headers=headers, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    sys.stdout.write(body.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
