# The gunicorn side of Benchmarks/run: the same bytes as AppServer's /plaintext.
def app(environ, start_response):
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
