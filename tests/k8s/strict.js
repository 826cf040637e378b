// SPDX-License-Identifier: Apache-2.0
// Unknown-field check for rendered objects. kubernetes-models' validate() checks types, enums
// and required fields, but (like the OpenAPI schemas it is generated from) lets unknown fields
// through, where the API server's strict field validation (kubectl's default) refuses them: a
// `hostPid: true` would pass validate() and be dropped or refused by a cluster. The field names
// come from the package's own TypeScript declarations, which are generated from the same
// schemas; this reads the subset of TypeScript they use (interfaces, Array<T>, unions, inline
// object types, index signatures, imports).
'use strict';

const fs = require('fs');
const path = require('path');

const LEAVES = new Set(['string', 'number', 'boolean', 'any', 'unknown', 'null', 'object',
                        'undefined', 'never', 'true', 'false']);

function tokenize(text)
{
  const stripped = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const re = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?|[{}<>\[\]:;?|,()=.&]/g;
  return stripped.match(re) || [];
}

class Parser {
  constructor(tokens, file)
  {
    this.t = tokens;
    this.i = 0;
    this.file = file;
  }
  peek() { return this.t[this.i]; }
  next() { return this.t[this.i++]; }
  expect(tok)
  {
    const got = this.next();
    if (got !== tok)
      throw new Error(`${this.file}: expected '${tok}', got '${got}' at token ${this.i}`);
  }
  type()
  {
    if (this.peek() === '|')
      this.next();
    const options = [this.primary()];
    while (this.peek() === '|') {
      this.next();
      options.push(this.primary());
    }
    return options.length === 1 ? options[0] : { k: 'union', options };
  }
  primary()
  {
    let ty;
    const tok = this.next();
    if (tok === '{') {
      ty = this.members();
    } else if (tok === '(') {
      ty = this.type();
      this.expect(')');
    } else if (tok === 'Array' && this.peek() === '<') {
      this.next();
      ty = { k: 'array', item: this.type() };
      this.expect('>');
    } else if (/^["'\d-]/.test(tok) || LEAVES.has(tok)) {
      ty = { k: 'leaf' };
    } else if (/^[A-Za-z_$]/.test(tok)) {
      ty = { k: 'ref', name: tok };
      if (this.peek() === '[' && /^["']/.test(this.t[this.i + 1])) { // IFoo["kind"]
        this.i += 3;
        ty = { k: 'leaf' };
      }
    } else {
      throw new Error(`${this.file}: unexpected '${tok}' in a type`);
    }
    while (this.peek() === '[' && this.t[this.i + 1] === ']') {
      this.i += 2;
      ty = { k: 'array', item: ty };
    }
    return ty;
  }
  // After '{': members up to and including '}'.
  members()
  {
    const props = new Map();
    let index = null;
    while (this.peek() !== '}') {
      if (this.peek() === '[') { // [key: string]: T
        this.next();
        this.next();
        this.expect(':');
        this.type();
        this.expect(']');
        this.expect(':');
        index = this.type();
      } else {
        const name = this.next().replace(/^["']|["']$/g, '');
        if (this.peek() === '?')
          this.next();
        this.expect(':');
        props.set(name, this.type());
      }
      if (this.peek() === ';' || this.peek() === ',')
        this.next();
    }
    this.next();
    return { k: 'object', props, index };
  }
}

class Schemas {
  constructor(nodeModules)
  {
    this.nodeModules = nodeModules;
    this.files = new Map(); // file -> {imports: Map(name -> file), main: type}
  }

  load(file)
  {
    if (this.files.has(file))
      return this.files.get(file);
    const text = fs.readFileSync(file, 'utf8');
    const imports = new Map();
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
      const spec = m[2];
      const target = spec.startsWith('.') ? path.resolve(path.dirname(file), spec + '.d.ts')
                                          : path.join(this.nodeModules, spec + '.d.ts');
      for (const part of m[1].split(',')) {
        const names = part.trim().split(/\s+as\s+/);
        if (names[0])
          imports.set(names[names.length - 1], target);
      }
    }
    const entry = { file, imports, main: null };
    this.files.set(file, entry);
    const iface = text.search(/export interface \w+/);
    const alias = text.search(/export declare type \w+\s*=/);
    const tokens = tokenize(text.slice(iface >= 0 ? iface : alias));
    const p = new Parser(tokens, file);
    if (iface >= 0) {
      while (p.next() !== '{')
        ;
      entry.main = p.members();
    } else if (alias >= 0) {
      while (p.next() !== '=')
        ;
      entry.main = p.type();
    } else {
      entry.main = { k: 'leaf' };
    }
    return entry;
  }

  resolve(ty, entry)
  {
    if (ty.k !== 'ref')
      return { ty, entry };
    const target = entry.imports.get(ty.name);
    if (!target)
      return { ty: { k: 'leaf' }, entry }; // a type this subset does not follow
    const next = this.load(target);
    return this.resolve(next.main, next);
  }

  // Appends "path: unknown field" for every field of value the declarations do not name.
  check(value, ty, entry, where, errors)
  {
    ({ ty, entry } = this.resolve(ty, entry));
    if (value === null || typeof value !== 'object')
      return;
    if (ty.k === 'union') {
      const want = Array.isArray(value) ? 'array' : 'object';
      for (const o of ty.options) {
        const r = this.resolve(o, entry);
        if (r.ty.k === want)
          return this.check(value, r.ty, r.entry, where, errors);
      }
      return;
    }
    if (ty.k === 'array' && Array.isArray(value)) {
      value.forEach((v, i) => this.check(v, ty.item, entry, `${where}[${i}]`, errors));
    } else if (ty.k === 'object' && !Array.isArray(value)) {
      for (const [key, v] of Object.entries(value)) {
        const sub = ty.props.get(key) || ty.index;
        if (!sub)
          errors.push(`${where}.${key}: unknown field`);
        else
          this.check(v, sub, entry, `${where}.${key}`, errors);
      }
    }
  }

  // Checks a whole object against the declarations in dtsFile (a model's Kind.d.ts).
  unknownFields(obj, dtsFile)
  {
    const entry = this.load(dtsFile);
    const errors = [];
    this.check(obj, entry.main, entry, obj.kind, errors);
    return errors;
  }
}

module.exports = { Schemas };
