// The pickle opcodes: Machine::run, the interpreter loop of the unpickler (PickleMachine.h), and the opcodes in
// four groups.
#include "io/PickleMachine.h"

namespace ls::io::pickle::detail {

// Framing, empty containers, marks and the memo.
bool Machine::stackOp(uint8_t op)
{
    switch (op) {
    case 0x80:
        u8();
        break; // PROTO
    case 0x95:
        bytes(8);
        break; // FRAME
    case '}':
        push(make(Object::Type::Dict));
        break;
    case ']':
        push(make(Object::Type::List));
        break;
    case ')':
        push(make(Object::Type::Tuple));
        break;
    case 0x8f:
        push(make(Object::Type::List));
        break; // EMPTY_SET (kept as a list)
    case '(':
        m_marks.push_back(m_stack.size());
        break;
    case 'q':
        memoPut(u8());
        break;
    case 'r':
        memoPut(u32());
        break;
    case 0x94:
        memoPut(m_memo.size());
        break;
    case 'h':
        push(memoGet(u8()));
        break;
    case 'j':
        push(memoGet(u32()));
        break;
    default:
        return false;
    }
    return true;
}

// Values: strings, bytes, allowed globals and persistent ids (storages).
bool Machine::valueOp(uint8_t op)
{
    switch (op) {
    case 'X':
        push(str(u32()));
        break;
    case 0x8c:
        push(str(u8()));
        break;
    case 0x8d:
        push(str(u64()));
        break;
    case 'T':
        push(str(u32()));
        break;
    case 'U':
        push(str(u8()));
        break;
    case 'B':
        push(byt(u32()));
        break;
    case 'C':
        push(byt(u8()));
        break;
    case 0x8e:
        push(byt(u64()));
        break;
    case 'c': {
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        break;
    }
    case 0x93: {
        Value name = pop();
        Value module = pop();
        if (module->type != Object::Type::Str || name->type != Object::Type::Str)
            bad("STACK_GLOBAL needs two strings");
        push(global(module->s, name->s));
        break;
    }
    case 'Q':
        push(persistent(pop()));
        break;
    case 'P': {
        auto v = make(Object::Type::Str);
        v->s = line();
        push(persistent(v));
        break;
    }
    default:
        return false;
    }
    return true;
}

// Values: tuples, numbers, None and booleans.
bool Machine::numberOp(uint8_t op)
{
    switch (op) {
    case 't': {
        auto items = popMark();
        auto v = make(Object::Type::Tuple);
        v->items = std::move(items);
        push(v);
        break;
    }
    case 0x85:
    case 0x86:
    case 0x87: {
        const int n = op - 0x84;
        auto v = make(Object::Type::Tuple);
        v->items.resize(n);
        for (int k = n - 1; k >= 0; --k)
            v->items[k] = pop();
        push(v);
        break;
    }
    case 'J':
        push(integer(static_cast<int32_t>(u32())));
        break;
    case 'K':
        push(integer(u8()));
        break;
    case 'M':
        push(integer(u16()));
        break;
    case 0x8a:
        push(longInt(u8()));
        break;
    case 0x8b:
        push(longInt(u32()));
        break;
    case 'I': {
        std::string l = line();
        if (l == "01" || l == "00") {
            auto v = make(Object::Type::Bool);
            v->b = l == "01";
            push(v);
        } else {
            push(integer(parseInt(l)));
        }
        break;
    }
    case 'L': {
        std::string l = line();
        if (!l.empty() && l.back() == 'L')
            l.pop_back();
        push(integer(parseInt(l)));
        break;
    }
    case 0x88:
    case 0x89: {
        auto v = make(Object::Type::Bool);
        v->b = op == 0x88;
        push(v);
        break;
    }
    case 'N':
        push(make(Object::Type::None));
        break;
    case 'G': {
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k)
            bits = (bits << 8) | u8();
        auto v = make(Object::Type::Float);
        std::memcpy(&v->f, &bits, 8);
        push(v);
        break;
    }
    default:
        return false;
    }
    return true;
}

// Building: reduce (allowed callables only), NEWOBJ, BUILD, dict items, list appends, sets, POP and DUP.
bool Machine::buildOp(uint8_t op)
{
    switch (op) {
    case 'R': {
        Value args = pop();
        Value fn = pop();
        push(reduce(fn, args));
        break;
    }
    case 0x81: { // NEWOBJ
        Value args = pop();
        Value cls = pop();
        push(reduce(cls, args));
        break;
    }
    case 'b': { // BUILD: state is applied to opaque objects only, and ignored
        Value state = pop();
        Value obj = top();
        (void)state;
        if (obj->type != Object::Type::Opaque && obj->type != Object::Type::Tensor && obj->type != Object::Type::Dict)
            bad("BUILD on an unexpected object");
        break;
    }
    case 's': {
        Value v = pop();
        Value k = pop();
        Value d = top();
        setItem(d, k, v);
        break;
    }
    case 'u': {
        auto items = popMark();
        Value d = top();
        if (items.size() % 2)
            bad("SETITEMS with an odd number of items");
        for (size_t k = 0; k < items.size(); k += 2)
            setItem(d, items[k], items[k + 1]);
        break;
    }
    case 'a': {
        Value v = pop();
        append(top(), v);
        break;
    }
    case 'e':
    case 0x90: {
        auto items = popMark();
        Value l = top();
        for (auto& v : items)
            append(l, v);
        break;
    }
    case 0x91: { // FROZENSET
        auto items = popMark();
        auto v = make(Object::Type::List);
        v->items = std::move(items);
        push(v);
        break;
    }
    case '0':
        pop();
        break;
    case '1':
        popMark();
        break;
    case '2':
        push(top());
        break;
    default:
        return false;
    }
    return true;
}

Value Machine::run()
{
    while (true) {
        const uint8_t op = u8();
        if (op == '.') { // STOP
            if (m_stack.empty())
                bad("STOP with an empty stack");
            return m_stack.back();
        }
        if (stackOp(op) || valueOp(op) || numberOp(op) || buildOp(op))
            continue;
        char buf[64];
        std::snprintf(buf, sizeof buf, "0x%02x", op);
        fail(ErrorKind::Security,
            m_where + ": refused: pickle opcode " + std::string(buf) + " at byte " + std::to_string(m_pos - 1)
                + " is not allowed in a weights file (nothing was executed)");
    }
}

} // namespace ls::io::pickle::detail
