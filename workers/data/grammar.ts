/**
 * An English-like corpus from a probabilistic grammar: noun phrases with determiners, adjectives,
 * prepositional phrases and relative clauses; transitive and intransitive clauses with subject-verb
 * agreement and tense; conjunctions; questions; numbers in words and digits. Word choice inside
 * each part of speech is Zipf-distributed, so the corpus has a realistic long tail.
 */
import { type Rng, Zipf } from "./rng";
import { drawInSplit, type Split } from "./splits";
import * as L from "./lexicon";

const nouns = new Zipf(L.NOUNS);
const massNouns = new Zipf(L.MASS_NOUNS);
const names = new Zipf(L.NAMES);
const verbsT = new Zipf(L.VERBS_T);
const verbsI = new Zipf(L.VERBS_I);
const adjectives = new Zipf(L.ADJECTIVES);
const adverbs = new Zipf(L.ADVERBS);
const preps = new Zipf(L.PREPOSITIONS);
const numberWords = new Zipf(L.NUMBER_WORDS);
const timePhrases = new Zipf(L.TIME_PHRASES);

type Num = "sg" | "pl";
type Tense = "present" | "past";

interface NP {
  words: string[];
  num: Num;
}

function determiner(rng: Rng, num: Num): string | null {
  if (num === "sg") return rng.pick(["the", "the", "the", "a", "a", "this", "that", "every", "my", "her", "his", "our"]);
  const r = rng.next();
  if (r < 0.12) return numberWords.draw(rng);
  if (r < 0.17) return String(rng.range(2, 99));
  if (r < 0.27) return null;
  return rng.pick(["the", "the", "the", "some", "many", "these", "those", "my", "their", "all the"]);
}

function verbForm(v: readonly [string, string, string], num: Num, tense: Tense): string {
  if (tense === "past") return v[2];
  return num === "sg" ? v[1] : v[0];
}

/** depth bounds recursion through PPs and relative clauses. */
function nounPhrase(rng: Rng, depth: number, tense: Tense, forceNum?: Num): NP {
  const r = rng.next();
  if (!forceNum && r < 0.1) return { words: [names.draw(rng)], num: "sg" };
  if (!forceNum && r < 0.15) return { words: [massNouns.draw(rng)], num: "sg" };
  const num: Num = forceNum ?? (rng.chance(0.6) ? "sg" : "pl");
  const n = nouns.draw(rng);
  const words: string[] = [];
  const det = determiner(rng, num);
  if (det) words.push(det);
  if (rng.chance(0.4)) {
    words.push(adjectives.draw(rng));
    if (rng.chance(0.15)) words.push(adjectives.draw(rng));
  }
  const head = num === "sg" ? n[0] : n[1];
  if (det === "a" && /^[aeiou]/.test(words.length > 1 ? words[1] : head)) words[0] = "an";
  words.push(head);
  if (depth > 0 && rng.chance(0.18)) {
    words.push(preps.draw(rng), ...nounPhrase(rng, depth - 1, tense).words);
  } else if (depth > 0 && rng.chance(0.12)) {
    // A relative clause: subject relative ("that sees the cat") or object relative ("that the cat sees").
    if (rng.chance(0.6)) words.push("that", ...verbPhrase(rng, depth - 1, num, tense));
    else {
      const sub = nounPhrase(rng, 0, tense);
      words.push("that", ...sub.words, verbForm(verbsT.draw(rng), sub.num, tense));
    }
  }
  return { words, num };
}

function verbPhrase(rng: Rng, depth: number, num: Num, tense: Tense): string[] {
  const words: string[] = [];
  if (rng.chance(0.12)) words.push(adverbs.draw(rng));
  if (rng.chance(0.55)) {
    words.push(verbForm(verbsT.draw(rng), num, tense), ...nounPhrase(rng, depth, tense).words);
  } else {
    words.push(verbForm(verbsI.draw(rng), num, tense));
  }
  if (rng.chance(0.25)) words.push(preps.draw(rng), ...nounPhrase(rng, 0, tense).words);
  return words;
}

function clause(rng: Rng, tense: Tense): string[] {
  const subj = nounPhrase(rng, 1, tense);
  const words = [...subj.words, ...verbPhrase(rng, 1, subj.num, tense)];
  if (rng.chance(0.12)) words.push(timePhrases.draw(rng));
  if (rng.chance(0.06)) words.push("in", String(rng.range(1800, 2030)));
  return words;
}

function question(rng: Rng, tense: Tense): string {
  const r = rng.next();
  if (r < 0.5) {
    const subj = nounPhrase(rng, 1, tense);
    const aux = tense === "past" ? "did" : subj.num === "sg" ? "does" : "do";
    const vp = rng.chance(0.6) ? [verbsT.draw(rng)[0], ...nounPhrase(rng, 0, tense).words] : [verbsI.draw(rng)[0]];
    return [aux, ...subj.words, ...vp].join(" ") + "?";
  }
  if (r < 0.75) {
    const subj = nounPhrase(rng, 0, tense);
    const be = tense === "past" ? (subj.num === "sg" ? "was" : "were") : subj.num === "sg" ? "is" : "are";
    return [rng.pick(["where", "why", "how"]), be, ...subj.words].join(" ") + "?";
  }
  return ["who", verbForm(verbsT.draw(rng), "sg", tense), ...nounPhrase(rng, 1, tense).words].join(" ") + "?";
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One sentence, capitalized and punctuated. */
export function sentence(rng: Rng): string {
  const tense: Tense = rng.chance(0.55) ? "present" : "past";
  const r = rng.next();
  let s: string;
  if (r < 0.12) s = question(rng, tense);
  else if (r < 0.3) {
    const conj = rng.pick(["and", "but", "because", "while", "so"]);
    s = `${clause(rng, tense).join(" ")}, ${conj} ${clause(rng, tense).join(" ")}.`;
  } else if (r < 0.36) {
    const subj = nounPhrase(rng, 0, tense);
    const be = tense === "past" ? (subj.num === "sg" ? "was" : "were") : subj.num === "sg" ? "is" : "are";
    s = `${[...subj.words, be, adjectives.draw(rng)].join(" ")}.`;
  } else s = `${clause(rng, tense).join(" ")}.`;
  return capitalize(s);
}

/** One sentence belonging to `split`. */
export function sentenceIn(rng: Rng, split: Split): string {
  return drawInSplit(
    split,
    () => sentence(rng),
    (s) => s,
  );
}

/** A paragraph of `minSentences`..`maxSentences` sentences, all from `split`. */
export function paragraph(rng: Rng, split: Split, minSentences = 3, maxSentences = 6): string {
  const n = rng.range(minSentences, maxSentences);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(sentenceIn(rng, split));
  return out.join(" ");
}

/**
 * A subject-verb agreement probe: the prompt is a subject noun phrase (often with an attractor noun
 * of the other number inside a prepositional phrase); the choices are the correctly and the
 * wrongly agreeing present-tense verb with the same continuation.
 */
export function agreementItem(rng: Rng, split: Split): { prompt: string; choices: string[]; label: number } {
  return drawInSplit(
    split,
    () => {
      const num: Num = rng.chance(0.5) ? "sg" : "pl";
      let head = nouns.draw(rng);
      // "fish" and "sheep" agree with either verb form: no right answer.
      while (head[0] === head[1]) head = nouns.draw(rng);
      const det = num === "sg" ? rng.pick(["The", "This", "That", "My"]) : rng.pick(["The", "These", "Those", "My"]);
      const words = [det];
      if (rng.chance(0.4)) words.push(adjectives.draw(rng));
      words.push(num === "sg" ? head[0] : head[1]);
      if (rng.chance(0.6)) {
        const other = nouns.draw(rng);
        words.push(preps.draw(rng), "the", num === "sg" ? other[1] : other[0]);
      }
      const v = verbsI.draw(rng);
      const right = num === "sg" ? v[1] : v[0];
      const wrong = num === "sg" ? v[0] : v[1];
      const tail = rng.chance(0.5) ? "." : ` ${adverbs.draw(rng)}.`;
      const label = rng.int(2);
      const choices = label === 0 ? [` ${right}${tail}`, ` ${wrong}${tail}`] : [` ${wrong}${tail}`, ` ${right}${tail}`];
      return { prompt: words.join(" "), choices, label };
    },
    (t) => t.prompt + t.choices[t.label],
  );
}
