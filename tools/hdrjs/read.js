// Reads an HdrHistogram interval log (argv[2]) with hdr-histogram-js, the
// reference implementation's JavaScript port, and prints one JSON line per
// interval: tag, absolute start and end (ms), count and the values at the
// percentiles of argv[3] (comma-separated), by its getValueAtPercentile.
const hdr = require("hdr-histogram-js");
const fs = require("fs");
const text = fs.readFileSync(process.argv[2], "utf8");
const qs = (process.argv[3] || "50,90,99,99.9,100").split(",").map(Number);
const reader = new hdr.HistogramLogReader(text);
let h;
while ((h = reader.nextIntervalHistogram()) !== null) {
  const values = {};
  for (const q of qs) values[q] = h.getValueAtPercentile(q);
  console.log(JSON.stringify({
    tag: h.tag === "NO TAG" ? "" : h.tag,
    start: h.startTimeStampMsec,
    end: h.endTimeStampMsec,
    count: h.totalCount,
    values: values,
  }));
}
