// The service: answers every request with its path, the build's greeting and who runs it.
'use strict'
const fs = require('node:fs')
const http = require('node:http')

const builtWith = fs.readFileSync('/app/built-with', 'utf8').trim()
http
  .createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ path: req.url, greeting: process.env.GREETING, uid: process.getuid(), builtWith }))
  })
  .listen(Number(process.env.PORT))
