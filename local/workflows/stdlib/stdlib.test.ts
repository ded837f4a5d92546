// Standard library functions, each case an expression and its expected JSON.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toJsonText } from '../convert.ts';
import { parseWorkflow, startExecution } from '../engine.ts';

async function evaluate(expr: string): Promise<{ ok: boolean; json: unknown }> {
  const r = await startExecution(
    parseWorkflow(`- r:\n    return: '\${${expr.replace(/'/g, "''")}}'\n`),
    null,
  ).done;
  return {
    ok: r.state === 'SUCCEEDED',
    json: JSON.parse(
      toJsonText(r.state === 'SUCCEEDED' ? (r.result ?? null) : (r.error?.payload ?? null)),
    ),
  };
}

const ok: [string, unknown][] = [
  ['len([1, 2, 3])', 3],
  ['len({"a": 1})', 1],
  ['keys({"b": 1, "a": 2})', ['b', 'a']],
  ['int("42")', 42],
  ['int(3.9)', 3],
  ['int(-3.9)', -3],
  ['double("2.5")', 2.5],
  ['string(7)', '7'],
  ['string(true)', 'true'],
  ['default(null, "x")', 'x'],
  ['default("y", "x")', 'y'],
  ['get_type(1)', 'integer'],
  ['get_type(1.5)', 'double'],
  ['get_type("s")', 'string'],
  ['get_type([1])', 'list'],
  ['get_type({"a": 1})', 'map'],
  ['get_type(null)', 'null'],
  ['text.split("a,b,c", ",")', ['a', 'b', 'c']],
  ['text.substring("héllo", 1, 3)', 'él'],
  ['text.to_upper("abc")', 'ABC'],
  ['text.replace_all("a-b-c", "-", "+")', 'a+b+c'],
  ['text.find_all("abab", "b")', [1, 3]],
  [
    'text.find_all_regex("a1b22", "[0-9]+")',
    [
      { index: 1, match: '1' },
      { index: 3, match: '22' },
    ],
  ],
  // The reference page: backreferences such as \1 are not supported in repl; it stays literal.
  ['text.replace_all_regex("2026-11", "([0-9]+)-([0-9]+)", "\\\\2/\\\\1")', '\\2/\\1'],
  ['text.replace_all_regex("a$b", "[$]", "$&$1")', 'a$&$1b'],
  ['text.replace_all_regex("ab", "a|ab", "x")', 'x'],
  ['text.replace_all_regex("abc", "", "-")', '-a-b-c-'],
  ['text.replace_all_regex("abc", "b*", "-")', '-a-c-'],
  ['text.replace_all_regex("a.b", "\\\\.", "-")', 'a-b'],
  ['text.replace_all_regex("x-y", "\\\\-", "+")', 'x+y'],
  [
    'text.find_all_regex("abcd", "a|ab|bc|cd")',
    [
      { index: 0, match: 'ab' },
      { index: 2, match: 'cd' },
    ],
  ],
  ['text.find_all_regex("héllo", "l+")', [{ index: 2, match: 'll' }]],
  ['text.find_all_regex("a1", "[[:digit:]]")', [{ index: 1, match: '1' }]],
  ['text.find_all_regex("x", "y")', []],
  ['text.match_regex("ABC", "(?i)^abc$")', true],
  ['text.match_regex("ab", "\\\\Aab\\\\z")', true],
  ['text.match_regex("key-1", "^(?P<name>[a-z]+)-[0-9]$")', true],
  ['text.match_regex("abc", "^b")', false],
  ['text.split("abc", "x")', ['abc']],
  ['text.split("", ",")', ['']],
  ['text.substring("hello", -3, -1)', 'll'],
  ['text.substring("hello", 4, 2)', ''],
  ['text.substring("😀ab", 1, 9)', 'ab'],
  ['text.find_all("aaaa", "aa")', [0, 2]],
  ['text.find_all("😀a😀a", "a")', [1, 3]],
  ['text.find_all("abc", "")', []],
  ['text.replace_all("", "", "-")', '-'],
  ['text.replace_all("aaaa", "aa", "b")', 'bb'],
  // text.decode: each byte that is no part of a well-formed sequence becomes one U+FFFD.
  ['text.decode(base64.decode("/w=="))', '\ufffd'],
  ['text.decode(base64.decode("wIA="))', '\ufffd\ufffd'], // overlong C0 80
  ['text.decode(base64.decode("7aCA"))', '\ufffd\ufffd\ufffd'], // ED A0 80, a UTF-16 surrogate
  ['text.decode(base64.decode("YfCfmA=="))', 'a\ufffd\ufffd\ufffd'], // F0 9F 98, cut short
  ['text.decode(base64.decode("8J+YgA=="))', '😀'],
  ['text.decode(base64.decode("/w=="), "US-ASCII")', '\ufffd'],
  ['text.decode(base64.decode("pQ=="), "ISO-8859-3")', '\ufffd'], // a byte ISO-8859-3 leaves unassigned
  ['text.decode(base64.decode("AEEA"), "UTF-16BE")', 'A\ufffd'],
  ['base64.encode(text.encode("€", "ISO-8859-15"))', 'pA=='],
  ['text.decode(base64.decode("sw=="), "iso_8859-2")', 'ł'],
  // json.decode reads bytes as text.decode does, so an undecodable byte is U+FFFD there too.
  ['json.decode(base64.decode("ImH/YiI="))', 'a\ufffdb'],
  ['text.url_encode("a!*\'()~")', 'a%21%2A%27%28%29%7E'],
  ['text.url_decode("%2B+%20")', '+  '],
  ['text.url_encode_plus("a+b c")', 'a%2Bb+c'],
  ['text.decode(text.encode("é", "ISO-8859-1"), "iso-8859-1")', 'é'],
  ['base64.encode(text.encode("é", "ISO-8859-1"))', '6Q=='],
  ['base64.encode(text.encode("A", "UTF-16"))', '/v8AQQ=='],
  ['base64.encode(text.encode("A", "UTF-16LE"))', 'QQA='],
  ['text.decode(base64.decode("/v8AQQ=="), "UTF-16")', 'A'],
  ['text.decode(base64.decode("AEE="), "UTF-16BE")', 'A'],
  ['base64.encode(text.encode("hi"), false)', 'aGk'],
  ['text.decode(base64.decode("aGk", false))', 'hi'],
  ['text.decode(base64.decode("aGVs\\nbG8=\\r\\n"))', 'hello'],
  ['len(base64.decode(""))', 0],
  ['json.encode_to_string([1, [2]], true)', '[\n    1,\n    [\n        2\n    ]\n]'],
  ['json.encode_to_string({"a": {}, "b": []}, {"indent": " "})', '{\n "a": {},\n "b": []\n}'],
  ['json.encode_to_string([1], {"prefix": "#"})', '[\n#    1\n#]'],
  ['json.encode_to_string({"a": 1}, false)', '{"a":1}'],
  ['json.decode(text.encode("[1, 2.0]"))', [1, 2]],
  ['json.decode("\\"x\\"")', 'x'],
  ['len(uuid.generate())', 36],
  [
    'text.match_regex(uuid.generate(), "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")',
    true,
  ],
  ['text.match_regex("abc123", "^[a-z]+[0-9]+$")', true],
  ['text.url_encode("a b&c")', 'a%20b%26c'],
  ['text.url_encode_plus("a b")', 'a+b'],
  ['text.url_decode("a%20b")', 'a b'],
  ['text.decode(base64.decode("aGk="))', 'hi'],
  ['base64.encode(text.encode("hi"))', 'aGk='],
  ['json.encode_to_string({"a": [1, 2.5, null, true]})', '{"a":[1,2.5,null,true]}'],
  ['json.decode("{\\"x\\": [1, 2]}")', { x: [1, 2] }],
  ['map.get({"a": {"b": 1}}, ["a", "b"])', 1],
  ['map.get({"a": 1}, "z")', null],
  ['map.merge({"a": 1}, {"b": 2})', { a: 1, b: 2 }],
  ['map.merge_nested({"a": {"x": 1}}, {"a": {"y": 2}})', { a: { x: 1, y: 2 } }],
  ['map.delete({"a": 1, "b": 2}, "a")', { b: 2 }],
  ['list.concat([1], 2)', [1, 2]],
  ['list.prepend([1], 0)', [0, 1]],
  ['math.abs(-3)', 3],
  ['math.floor(2.7)', 2],
  ['math.max(2, 5)', 5],
  ['math.min(2, 5)', 2],
  [
    'base64.encode(hash.compute_checksum("abc", "SHA256"))',
    'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=',
  ],
  [
    'base64.encode(hash.compute_hmac("key", "data", "SHA256"))',
    Buffer.from('5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0', 'hex').toString(
      'base64',
    ),
  ],
  ['time.format(0)', '1970-01-01T00:00:00.000000Z'],
  ['time.parse("1970-01-01T00:00:10Z")', 10],
];

const bad: [string, string][] = [
  ['len(1)', 'TypeError'],
  ['int("x")', 'ValueError'],
  ['double("x")', 'ValueError'],
  ['keys([1])', 'TypeError'],
  ['text.split(1, ",")', 'TypeError'],
  ['text.find_all_regex("a", "(?=a)")', 'ValueError'],
  ['text.match_regex("a", "(")', 'ValueError'],
  ['text.url_decode("%E0%A4%A")', 'ValueError'],
  ['json.decode("{bad")', 'ValueError'],
  ['json.decode(base64.decode("/w=="))', 'ValueError'],
  ['json.decode(1)', 'TypeError'],
  ['json.encode(text.encode("x"))', 'ValueError'],
  ['json.encode_to_string([text.encode("x")])', 'ValueError'],
  ['json.encode_to_string(1, "yes")', 'TypeError'],
  ['json.encode_to_string(1, {"indent": 2})', 'TypeError'],
  ['text.split("abc", "")', 'ValueError'],
  ['text.substring("abc", 0.0, 1)', 'TypeError'],
  ['text.substring(1, 0, 1)', 'TypeError'],
  ['text.replace_all_regex("a", "(", "b")', 'ValueError'],
  ['text.replace_all_regex("a", "a", 1)', 'TypeError'],
  ['text.find_all_regex("aa", "(a)\\\\1")', 'ValueError'],
  ['text.match_regex("a", "a(?i)b")', 'ValueError'],
  ['text.decode("abc")', 'TypeError'],
  ['text.encode("é", "US-ASCII")', 'ValueError'],
  ['text.encode("😀", "ISO-8859-1")', 'ValueError'],
  ['text.encode("ł", "ISO-8859-1")', 'ValueError'],
  ['text.url_decode("%FF")', 'ValueError'],
  ['text.url_decode("%")', 'ValueError'],
  ['text.find_all("a", "\\ud800")', 'ValueError'],
  ['text.find_all(1, "a")', 'TypeError'],
  ['text.find_all("a", 1)', 'TypeError'],
  ['text.encode("x", "EBCDIC-XYZ")', 'ValueError'],
  ['text.encode("x", 1)', 'TypeError'],
  ['base64.decode("aGk")', 'ValueError'],
  ['base64.decode("aG!k")', 'ValueError'],
  ['base64.decode("aGk=", false)', 'ValueError'],
  ['base64.decode("a===")', 'ValueError'],
  ['base64.decode("aGVsb", false)', 'ValueError'],
  ['base64.encode(text.encode("x"), "no")', 'TypeError'],
  ['hash.compute_hmac("k", "d", "MD4")', 'ValueError'],
  ['hash.compute_checksum("a", "CRC32")', 'ValueError'],
  ['map.merge([1], {})', 'TypeError'],
  ['math.abs("x")', 'TypeError'],
  ['time.parse("yesterday")', 'ValueError'],
];

describe('standard library', () => {
  for (const [expr, want] of ok) {
    test(expr, async () => {
      const r = await evaluate(expr);
      assert.equal(r.ok, true, JSON.stringify(r.json));
      assert.deepEqual(r.json, want);
    });
  }
  for (const [expr, tag] of bad) {
    test(`${expr} raises ${tag}`, async () => {
      const r = await evaluate(expr);
      assert.equal(r.ok, false);
      assert.deepEqual((r.json as { tags: string[] }).tags, [tag]);
    });
  }
});
