-- wrk: POST the JSON body in the file named by $BODY to the URL's path.
local file = io.open(os.getenv("BODY"), "r")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
