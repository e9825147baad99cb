// Drives `ondi serve` with the official OpenAI client (unchanged) and checks what a client sees.
// Usage: node openai_client.mjs BASE_URL API_KEY MODEL_ID
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [baseURL, apiKey, modelId] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 120_000 });
let passed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  await fn();
  passed++;
  console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
const user = (content) => [{ role: 'user', content }];
// Random-weight models are sharply peaked: temperature 2 makes seeded draws diverse enough that a mix-up between
// requests would show.
const hot = { temperature: 2, top_p: 1 };

async function streamText(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '';
  let finish = null;
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content ?? '';
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
  }
  return { text, finish, chunks };
}

await check('models.list names the served model', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [modelId]);
  const m = await client.models.retrieve(modelId);
  assert.equal(m.id, modelId);
});

await check('chat: non-streamed answer, finish_reason and usage', async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: user('Hello'), max_tokens: 8, seed: 1 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 8);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

await check('chat: max_completion_tokens bounds the answer', async () => {
  const r = await client.chat.completions.create({
    model: modelId, messages: user('Count'), max_completion_tokens: 3, ...hot, seed: 5,
    logit_bias: {}, // an empty map is valid
  });
  assert.ok(r.usage.completion_tokens <= 3);
});

await check('chat: the stream carries the same text as the non-streamed answer, then usage', async () => {
  const params = { model: modelId, messages: user('Tell me a story'), max_tokens: 12, seed: 42, ...hot };
  const whole = await client.chat.completions.create(params);
  const s = await streamText({ ...params, stream_options: { include_usage: true } });
  assert.equal(s.text, whole.choices[0].message.content);
  assert.equal(s.finish, whole.choices[0].finish_reason);
  assert.equal(s.chunks[0].choices[0].delta.role, 'assistant');
  const last = s.chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, whole.usage.completion_tokens);
  assert.equal(last.usage.prompt_tokens, whole.usage.prompt_tokens);
  // without include_usage, no usage chunk
  const s2 = await streamText(params);
  assert.ok(s2.chunks.every((c) => !c.usage));
});

await check('chat: a seed fixes the answer, different seeds differ', async () => {
  const ask = (seed) => client.chat.completions.create({ model: modelId, messages: user('Hi'), max_tokens: 10, seed, ...hot });
  const a = await ask(7), b = await ask(7);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const others = new Set();
  for (const seed of [1, 2, 3, 4]) others.add((await ask(seed)).choices[0].message.content);
  assert.ok(others.size > 1, 'four seeds gave one answer: the test would not see requests mixed up');
});

await check('chat: logprobs and top_logprobs', async () => {
  const r = await client.chat.completions.create({
    model: modelId, messages: user('Logprobs'), max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  let text = '';
  for (const t of lp) {
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(t.logprob <= 0);
    // greedy: the chosen token is the most likely one
    assert.equal(t.token, t.top_logprobs[0].token);
    assert.equal(t.logprob, t.top_logprobs[0].logprob);
    for (let i = 1; i < 3; i++) assert.ok(t.top_logprobs[i].logprob <= t.top_logprobs[i - 1].logprob);
    const mass = t.top_logprobs.reduce((s, x) => s + Math.exp(x.logprob), 0);
    assert.ok(mass <= 1 + 1e-6);
    text += Buffer.from(t.bytes).toString('latin1');
  }
  // the tokens' bytes are the answer's bytes (when no end-of-generation token was drawn)
  if (r.choices[0].finish_reason === 'length')
    assert.equal(Buffer.from(text, 'latin1').toString('utf8'), r.choices[0].message.content);
});

await check('chat: stop sequences end the answer just before them', async () => {
  const params = { model: modelId, messages: user('Stop test'), max_tokens: 24, seed: 11, ...hot };
  const full = (await client.chat.completions.create(params)).choices[0].message.content;
  const chars = [...full];
  assert.ok(chars.length >= 6, `answer too short to cut: ${JSON.stringify(full)}`);
  const stop = chars.slice(3, 5).join('');
  const want = full.slice(0, full.indexOf(stop));
  const r = await client.chat.completions.create({ ...params, stop: [stop, 'never-seen-stop'] });
  assert.equal(r.choices[0].message.content, want);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const s = await streamText({ ...params, stop });
  assert.equal(s.text, want);
  assert.equal(s.finish, 'stop');
});

await check('chat: logit_bias +100 forces a token, -100 bans it', async () => {
  const base = { model: modelId, messages: user('Bias'), max_tokens: 4, temperature: 0, logprobs: true };
  const forced = await client.chat.completions.create({ ...base, logit_bias: { 1000: 100 } });
  const toks = forced.choices[0].logprobs.content.map((t) => t.token);
  assert.equal(toks.length, 4);
  assert.ok(toks.every((t) => t === toks[0]));
  const both = await client.chat.completions.create({ ...base, logit_bias: { 1000: -100, 1001: 100 } });
  assert.ok(both.choices[0].logprobs.content.every((t) => t.token !== toks[0]));
});

await check('chat: penalties and unknown fields are accepted', async () => {
  const r = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    max_tokens: 4, presence_penalty: 1.5, frequency_penalty: 0.5, seed: 3, user: 'someone', metadata: { a: '1' },
    some_future_field: { nested: [1, 2] },
  });
  assert.ok(r.usage.completion_tokens >= 1);
});

await check('completions: text, stream, logprobs, usage', async () => {
  const params = { model: modelId, prompt: 'Once upon a time', max_tokens: 8, seed: 9, ...hot };
  const r = await client.completions.create(params);
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  assert.ok(r.usage.completion_tokens <= 8);
  const stream = await client.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  for await (const c of stream) {
    if (c.choices.length) text += c.choices[0].text;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, r.choices[0].text);
  assert.equal(usage.completion_tokens, r.usage.completion_tokens);
  const lp = await client.completions.create({ ...params, temperature: 0, logprobs: 2 });
  const l = lp.choices[0].logprobs;
  assert.equal(l.tokens.length, lp.usage.completion_tokens);
  assert.equal(l.token_logprobs.length, l.tokens.length);
  assert.equal(l.top_logprobs.length, l.tokens.length);
  assert.ok(l.top_logprobs.every((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 2));
  assert.equal(l.text_offset[0], 0);
});

await check('a shared prompt prefix is served from the KV cache', async () => {
  const system = 'You are a careful assistant. '.repeat(12);
  const ask = (q) => client.chat.completions.create({
    model: modelId, messages: [{ role: 'system', content: system }, { role: 'user', content: q }], max_tokens: 2, seed: 1,
  });
  await ask('first question');
  const r = await ask('second question');
  assert.ok(r.usage.prompt_tokens_details.cached_tokens >= 40,
    `cached_tokens ${r.usage.prompt_tokens_details.cached_tokens} of ${r.usage.prompt_tokens}`);
});

await check('8 concurrent streams each match the same request alone', async () => {
  const reqs = [...Array(8).keys()].map((i) => ({
    model: modelId, messages: user(`Request number ${i} ${'x'.repeat(i * 7)}`), max_tokens: 12, seed: 100 + i, ...hot,
  }));
  const alone = [];
  for (const p of reqs) alone.push((await streamText(p)).text);
  assert.ok(new Set(alone).size > 1, 'eight different requests gave one answer');
  const together = await Promise.all(reqs.map((p) => streamText(p)));
  together.forEach((t, i) => assert.equal(t.text, alone[i], `request ${i} differs when batched`));
  // eight copies of one request at once: all equal to it alone
  const same = await Promise.all(reqs.map(() => streamText(reqs[3])));
  same.forEach((t) => assert.equal(t.text, alone[3]));
});

await check('errors: wrong types, bad values, context overflow, unknown routes', async () => {
  const expect400 = async (params, param) => {
    await assert.rejects(client.chat.completions.create({ model: modelId, messages: user('x'), ...params }), (e) => {
      assert.equal(e.status, 400, `${JSON.stringify(params)}: status ${e.status}`);
      assert.equal(e.type, 'invalid_request_error');
      if (param) assert.equal(e.param, param);
      return true;
    });
  };
  await expect400({ temperature: 'hot' }, 'temperature');
  await expect400({ temperature: 3 }, 'temperature');
  await expect400({ max_tokens: -5 }, 'max_tokens');
  await expect400({ max_tokens: 0 }, 'max_tokens');
  await expect400({ max_tokens: 1e12 }, 'max_tokens');
  await expect400({ max_tokens: 100000000 }, 'max_tokens');
  await expect400({ top_logprobs: 50, logprobs: true }, 'top_logprobs');
  await expect400({ stop: 5 }, 'stop');
  await expect400({ seed: 'abc' }, 'seed');
  await expect400({ logit_bias: { abc: 1 } }, 'logit_bias');
  await expect400({ messages: 'not an array' }, 'messages');
  await expect400({ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role');
  await expect400({ messages: [{ role: 'user', content: 'x '.repeat(5000) }] }, 'messages');
  await assert.rejects(client.completions.create({ model: modelId, prompt: 42 }), (e) => e.status === 400);
  const wrongKey = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrongKey.models.list(), (e) => e.status === 401 && e instanceof OpenAI.AuthenticationError);
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => e.status === 404);
});

console.log(`${passed} passed, 0 failed`);
