import lande from "lande";
import { describe, expect, it } from "vitest";
import { contentHash } from "../hash";
import { createSession, runBase } from "../onnx/session";
import { buildLandeBaseModel, landeBaseModel, wideBenchmarkBase } from "./baseModel";

const LANDE_T50_HASH = "0xf9bcc12b9878a1d36c878e7d79e307ca36527e506e75b45b8993a67852f46f0e";

/** Sentences in many languages and scripts, plus edge cases of the normalization. */
const SENTENCES = [
  "What language is this sentence written in?",
  "The quick brown fox jumps over the lazy dog near the riverbank.",
  "I'll be there at half past seven, don't wait for me.",
  "In welcher Sprache ist dieser Satz geschrieben?",
  "Die Bundesregierung hat heute neue Maßnahmen beschlossen.",
  "Dans quelle langue est écrite cette phrase ?",
  "Les enfants jouent dans le jardin pendant que leurs parents préparent le dîner.",
  "In che lingua è scritta questa frase?",
  "¿En qué idioma está escrita esta oración?",
  "Mañana vamos a la playa si no llueve.",
  "Em que língua está escrita esta frase?",
  "Não sei se vou conseguir chegar a tempo.",
  "На каком языке написано это предложение?",
  "Москва — столица России, крупнейший город страны.",
  "Якою мовою написано це речення?",
  "На якой мове напісаны гэты сказ?",
  "На какъв език е написано това изречение?",
  "На ком језику је написана ова реченица?",
  "На кој јазик е напишана оваа реченица?",
  "Bu cümle hangi dilde yazılmıştır?",
  "Bu cümlə hansı dildə yazılıb?",
  "Millä kielellä tämä lause on kirjoitettu?",
  "Milyen nyelven van írva ez a mondat?",
  "באיזו שפה כתוב המשפט הזה?",
  "بأي لغة كتبت هذه الجملة؟",
  "این جمله به چه زبانی نوشته شده است؟",
  "この文は何語で書かれていますか。",
  "今日はとても暑いですね。",
  "这句话是用什么语言写的？",
  "我们明天早上八点在车站见面。",
  "이 문장은 어떤 언어로 쓰여졌나요?",
  "In welke taal is deze zin geschreven?",
  "W jakim języku jest napisane to zdanie?",
  "V jakém jazyce je tato věta napsána?",
  "V akom jazyku je napísaná táto veta?",
  "Hvilket sprog er denne sætning skrevet på?",
  "Hvilket språk er denne setningen skrevet på?",
  "Vilket språk är den här meningen skriven på?",
  "Á hvaða tungumáli er þessi setning skrifuð?",
  "Kokia kalba parašytas šis sakinys?",
  "Mis keeles see lause on kirjutatud?",
  "Zein hizkuntzatan dago idatzita esaldi hau?",
  "En quina llengua està escrita aquesta frase?",
  "Na kojem je jeziku napisana ova rečenica?",
  "În ce limbă este scrisă această propoziție?",
  "Σε ποια γλώσσα είναι γραμμένη αυτή η πρόταση;",
  "Ի՞նչ լեզվով է գրված այս նախադասությունը:",
  "რა ენაზეა დაწერილი ეს წინადადება?",
  "Бұл сөйлем қай тілде жазылған?",
  "यह वाक्य किस भाषा में लिखा गया है?",
  "हे वाक्य कोणत्या भाषेत लिहिले आहे?",
  "এই বাক্যটি কোন ভাষায় লেখা?",
  "Dalam bahasa apa kalimat ini ditulis?",
  "Câu này được viết bằng ngôn ngữ nào?",
  "Sa anong wika nakasulat ang pangungusap na ito?",
  "Wane harshe aka rubuta wannan jumla?",
  "Ni mu rurimi uruhe iyi nteruro yanditswe?",
  "Die taal waarin hierdie sin geskryf is, is Afrikaans.",
  "Mixed: Hello, bonjour, hola, 你好, こんにちは — all-in-one!!!",
  "well-known self-service --- double   spaces\tand\ttabs",
  "ÉCRIT EN MAJUSCULES AVEC DES ACCENTS",
  "🚀🚀 to the moon 🌕 $BTC 100k!!!",
  "𝒜𝓈𝓉𝓇𝒶𝓁 letters 𠜎𠜱 outside the BMP",
  "1234567890 !@#$%^&*()",
  "",
  "a",
];

describe("lande base model in ONNX", () => {
  it("gives lande's probabilities on 60+ sentences in many languages (max abs diff < 1e-4)", async () => {
    expect(SENTENCES.length).toBeGreaterThanOrEqual(50);
    const base = landeBaseModel();
    const featurizer = base.featurizer;
    if (!featurizer) throw new Error("lande base has a featurizer");
    const session = await createSession(base.onnx);
    const probabilities = await runBase(session, featurizer.featurizeAll(SENTENCES), base.hidden.inputs);
    let maxDiff = 0;
    const topLanguages = new Set<string>();
    SENTENCES.forEach((sentence, row) => {
      const expected = lande(sentence);
      expect(expected).toHaveLength(base.labels.length);
      topLanguages.add(expected[0]?.[0] as string);
      for (const [language, probability] of expected) {
        const column = base.labels.indexOf(language);
        expect(column).toBeGreaterThanOrEqual(0);
        const actual = probabilities[row * base.labels.length + column] as number;
        maxDiff = Math.max(maxDiff, Math.abs(actual - probability));
      }
    });
    expect(maxDiff).toBeLessThan(1e-4);
    // The sentences really exercise the model: many different winning languages.
    expect(topLanguages.size).toBeGreaterThanOrEqual(30);
    await session.release();
  });

  it("has a stable content hash: deterministic serialization, keccak256 of the ONNX bytes", () => {
    const base = landeBaseModel();
    const again = buildLandeBaseModel();
    expect(again).not.toBe(base);
    expect(Buffer.from(again.onnx).equals(Buffer.from(base.onnx))).toBe(true);
    expect(contentHash(again.onnx)).toBe(base.hash);
    // Pinned: every adapter manifest names the base by this hash. If it changes (lande
    // upgraded, graph layout changed), all adapters must be retrained: update docs/models.md.
    expect(base.hash).toBe(LANDE_T50_HASH);
    // 620 → 120 → 50 float32 weights and biases dominate the file.
    expect(base.onnx.length).toBeGreaterThan((620 * 120 + 120 + 120 * 50 + 50) * 4);
  });
});

describe("wide benchmark base", () => {
  it("emits a seeded 768-wide base that onnxruntime runs, with a hash fixed by its seed", async () => {
    const wide = wideBenchmarkBase({ seed: 7 });
    expect(wide.hidden.inputs).toBe(768);
    expect(wide.hidden.outputs).toBe(768);
    expect(wideBenchmarkBase({ seed: 7 }).hash).toBe(wide.hash);
    expect(wideBenchmarkBase({ seed: 8 }).hash).not.toBe(wide.hash);
    const session = await createSession(wide.onnx);
    const rows = 4;
    const features = Float32Array.from({ length: rows * 768 }, (_, i) => Math.sin(i));
    const probabilities = await runBase(session, features, 768);
    expect(probabilities).toHaveLength(rows * 50);
    for (let row = 0; row < rows; row++) {
      const sum = probabilities.subarray(row * 50, (row + 1) * 50).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
    }
    await session.release();
  });
});
