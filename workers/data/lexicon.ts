/**
 * The lexicon of the generated English-like corpus: a few hundred real words by part of speech,
 * each list ordered from most to least frequent so a Zipf draw gives a realistic long tail.
 */

/** Singular and plural of each noun. */
export const NOUNS: readonly (readonly [string, string])[] = [
  ["man", "men"], ["woman", "women"], ["child", "children"], ["dog", "dogs"], ["cat", "cats"],
  ["teacher", "teachers"], ["friend", "friends"], ["house", "houses"], ["book", "books"], ["city", "cities"],
  ["car", "cars"], ["tree", "trees"], ["student", "students"], ["doctor", "doctors"], ["bird", "birds"],
  ["girl", "girls"], ["boy", "boys"], ["river", "rivers"], ["garden", "gardens"], ["king", "kings"],
  ["farmer", "farmers"], ["letter", "letters"], ["table", "tables"], ["window", "windows"], ["door", "doors"],
  ["road", "roads"], ["horse", "horses"], ["ship", "ships"], ["village", "villages"], ["mother", "mothers"],
  ["father", "fathers"], ["sister", "sisters"], ["brother", "brothers"], ["queen", "queens"], ["soldier", "soldiers"],
  ["baker", "bakers"], ["painter", "painters"], ["singer", "singers"], ["writer", "writers"], ["stone", "stones"],
  ["apple", "apples"], ["box", "boxes"], ["cup", "cups"], ["chair", "chairs"], ["phone", "phones"],
  ["song", "songs"], ["story", "stories"], ["picture", "pictures"], ["school", "schools"], ["market", "markets"],
  ["mountain", "mountains"], ["forest", "forests"], ["island", "islands"], ["bridge", "bridges"], ["tower", "towers"],
  ["lamp", "lamps"], ["key", "keys"], ["coin", "coins"], ["boat", "boats"], ["train", "trains"],
  ["fox", "foxes"], ["wolf", "wolves"], ["mouse", "mice"], ["fish", "fish"], ["sheep", "sheep"],
  ["engineer", "engineers"], ["pilot", "pilots"], ["nurse", "nurses"], ["lawyer", "lawyers"], ["judge", "judges"],
  ["flower", "flowers"], ["cake", "cakes"], ["bottle", "bottles"], ["shoe", "shoes"], ["hat", "hats"],
  ["clock", "clocks"], ["map", "maps"], ["ticket", "tickets"], ["machine", "machines"], ["computer", "computers"],
  ["neighbor", "neighbors"], ["stranger", "strangers"], ["guest", "guests"], ["player", "players"], ["captain", "captains"],
  ["poet", "poets"], ["sailor", "sailors"], ["hunter", "hunters"], ["merchant", "merchants"], ["priest", "priests"],
  ["wall", "walls"], ["field", "fields"], ["lake", "lakes"], ["hill", "hills"], ["valley", "valleys"],
  ["kitchen", "kitchens"], ["office", "offices"], ["church", "churches"], ["castle", "castles"], ["station", "stations"],
];

/** Mass and abstract nouns used without an article. */
export const MASS_NOUNS: readonly string[] = [
  "water", "bread", "music", "money", "time", "rain", "snow", "coffee", "milk", "gold",
  "silver", "paper", "wood", "sand", "light", "news", "advice", "history", "science", "art",
];

/** Proper names (singular subjects). */
export const NAMES: readonly string[] = [
  "Anna", "John", "Maria", "Peter", "Sarah", "David", "Emma", "James", "Lucy", "Tom",
  "Alice", "Robert", "Laura", "Michael", "Nora", "Oliver", "Clara", "Henry", "Rosa", "Victor",
];

/** Transitive verbs: [base/plural present, 3rd singular present, past]. */
export const VERBS_T: readonly (readonly [string, string, string])[] = [
  ["see", "sees", "saw"], ["like", "likes", "liked"], ["find", "finds", "found"], ["take", "takes", "took"],
  ["know", "knows", "knew"], ["want", "wants", "wanted"], ["make", "makes", "made"], ["give", "gives", "gave"],
  ["love", "loves", "loved"], ["help", "helps", "helped"], ["call", "calls", "called"], ["follow", "follows", "followed"],
  ["watch", "watches", "watched"], ["build", "builds", "built"], ["open", "opens", "opened"], ["carry", "carries", "carried"],
  ["read", "reads", "read"], ["write", "writes", "wrote"], ["buy", "buys", "bought"], ["sell", "sells", "sold"],
  ["visit", "visits", "visited"], ["paint", "paints", "painted"], ["cook", "cooks", "cooked"], ["meet", "meets", "met"],
  ["hear", "hears", "heard"], ["remember", "remembers", "remembered"], ["push", "pushes", "pushed"], ["pull", "pulls", "pulled"],
  ["chase", "chases", "chased"], ["feed", "feeds", "fed"], ["teach", "teaches", "taught"], ["catch", "catches", "caught"],
  ["hide", "hides", "hid"], ["clean", "cleans", "cleaned"], ["draw", "draws", "drew"], ["bring", "brings", "brought"],
  ["lose", "loses", "lost"], ["guard", "guards", "guarded"], ["admire", "admires", "admired"], ["ignore", "ignores", "ignored"],
];

/** Intransitive verbs: [base/plural present, 3rd singular present, past]. */
export const VERBS_I: readonly (readonly [string, string, string])[] = [
  ["run", "runs", "ran"], ["sleep", "sleeps", "slept"], ["walk", "walks", "walked"], ["sing", "sings", "sang"],
  ["laugh", "laughs", "laughed"], ["wait", "waits", "waited"], ["arrive", "arrives", "arrived"], ["work", "works", "worked"],
  ["smile", "smiles", "smiled"], ["fall", "falls", "fell"], ["swim", "swims", "swam"], ["dance", "dances", "danced"],
  ["cry", "cries", "cried"], ["rest", "rests", "rested"], ["travel", "travels", "traveled"], ["listen", "listens", "listened"],
  ["shout", "shouts", "shouted"], ["return", "returns", "returned"], ["disappear", "disappears", "disappeared"], ["grow", "grows", "grew"],
];

export const ADJECTIVES: readonly string[] = [
  "old", "new", "big", "small", "good", "young", "little", "long", "red", "happy",
  "green", "dark", "quiet", "strong", "white", "black", "blue", "tall", "kind", "cold",
  "warm", "bright", "heavy", "brave", "clever", "gentle", "hungry", "tired", "busy", "famous",
  "strange", "ancient", "empty", "narrow", "wooden", "golden", "quick", "lazy", "proud", "silent",
  "careful", "honest", "lucky", "rich", "poor", "wild", "calm", "sharp", "soft", "sweet",
];

export const ADVERBS: readonly string[] = [
  "often", "never", "always", "quickly", "slowly", "sometimes", "quietly", "happily", "rarely", "carefully",
  "suddenly", "finally", "usually", "gladly", "loudly",
];

export const PREPOSITIONS: readonly string[] = [
  "in", "on", "near", "with", "under", "behind", "by", "from", "over", "across",
  "beside", "along", "inside", "outside", "through",
];

export const NUMBER_WORDS: readonly string[] = [
  "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve",
];

export const TIME_PHRASES: readonly string[] = [
  "today", "yesterday", "at night", "in the morning", "every day", "last week", "in the evening", "on monday",
  "after dinner", "before noon",
];
