export default function Home() {
  return <h1>Frontier</h1>;
}
