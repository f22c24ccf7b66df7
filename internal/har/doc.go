// Package har turns a browser recording (an HTTP Archive, HAR 1.2) into a
// journey scenario: Decode reads and checks the archive, Convert writes the
// scenario's YAML. It is pure: no sockets, no files, no clocks; the
// coordinator's `import har` command does the reading and writing.
//
// What Convert keeps and drops, and why:
//
//   - Steps. One request step per entry, in startedDateTime order (the
//     browser's parallel fetches are played one after another). Dropped:
//     static assets unless Options.KeepAssets (an entry whose response
//     mimeType is CSS, JavaScript, an image, a font, audio, video or
//     WebAssembly, or whose URL path ends in .css .js .mjs .map .png .jpg
//     .jpeg .gif .webp .avif .svg .ico .bmp .woff .woff2 .ttf .otf .eot
//     .mp4 .webm .mp3 .ogg .wav .m4a .wasm, or that Chrome marked as a
//     stylesheet, script, image, font or media); CORS preflights (OPTIONS
//     with Access-Control-Request-Method: the client does not need them);
//     entries with no response (status 0: blocked or cancelled); entries
//     Chrome answered from its cache (_fromCache: nothing was sent); and URLs
//     that are not http or https (data:, blob:, ws:, extensions). A journey
//     holds at most scenario.MaxJourneySteps request steps (think steps
//     are not counted); later requests are left out, and said so.
//   - The stage's URL is the origin of the first kept request; requests to
//     that origin use path:, the others url:.
//   - Think times: the gap from the end of a kept request to the start of
//     the next one (start + time), in milliseconds, when it is at least
//     Options.ThinkMin (100ms by default), capped at scenario.MaxThink.
//   - Request headers. Kept: what the application sends (Authorization,
//     Content-Type, Accept, Accept-Language, Origin, Referer, If-Match,
//     X-… and any other header not listed here). Dropped: pseudo-headers
//     (":authority"), Host, Content-Length and the hop-by-hop headers
//     (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
//     Transfer-Encoding, Upgrade, Expect): the client writes its own;
//     Cookie: the journey's cookie jar sends the cookies the responses set;
//     what the browser adds by itself (User-Agent, Sec-*, DNT, Priority,
//     Purpose, Upgrade-Insecure-Requests); Accept-Encoding (the client does
//     not decompress, and extractions and checks read the body as sent);
//     the browser cache's revalidation headers (If-None-Match,
//     If-Modified-Since, Cache-Control, Pragma: a replay should fetch, not
//     revalidate the recorder's cache); and names or values that are not
//     valid HTTP. Names are written canonically (content-type →
//     Content-Type); repeated names are joined with ", ".
//   - expect: the recorded status, only when it is not 2xx or 3xx (those
//     count as success anyway, and pinning 200 against 201 is brittle): a
//     recorded 404 that is part of the flow must not fail the journey.
//   - Tokens. A value of a later request — a header value (or the word
//     after the scheme, as in "Bearer TOKEN"), a path segment, a query or
//     form value, a string in a JSON body — that equals a string an earlier
//     kept response returned, in a JSON body field or a response header, is
//     replaced by {{var NAME}}, and the earliest step whose response
//     returned it extracts it ({json: $.path} or {header: Name}; a JSON
//     field before a header). NAME is the JSON key or the header name, made
//     a valid variable name and unique. Only values that look like tokens
//     or ids count: 8 to 8192 bytes, a letter and a digit, no white space,
//     not a date, a URL or a MIME type; and not a value an earlier request
//     had already sent (the user's own input echoed back). A value that
//     would need escaping in its place (percent-encoding in a URL, a JSON
//     escape in a body) is left as recorded. Set-Cookie values are never
//     extracted: the cookie jar carries them (a header that sends a
//     cookie's value back, as double-submit CSRF tokens do, is kept as
//     recorded with a warning that suggests {cookie: NAME}). Response
//     bodies in base64 are decoded first.
//   - Templates. Recorded text is literal: a "{{" in it is written
//     {{"{{"}}.
//
// The output is deterministic: the same archive and options give the same
// bytes. Concurrency: every function is safe for concurrent use.
package har
