#pragma once
// The unpickler's virtual machine (io/Pickle.h is its interface): a stack machine over the pickle opcodes that builds
// only what weights files need, refusing every global outside the allow-lists of Pickle.cpp. Internal to io/.
#include "io/Pickle.h"

#include "util/Error.h"

#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace ls::io::pickle::detail {

// What a tensor checkpoint legitimately references, and the harmless metadata objects kept opaque (Pickle.cpp).
const std::set<std::string>& tensorGlobals();
const std::set<std::string>& opaqueGlobals();
bool isStorageType(const std::string& module, const std::string& name);
bool isDType(const std::string& module, const std::string& name);

inline Value makeObject(Object::Type t)
{
    auto v = std::make_shared<Object>();
    v->type = t;
    return v;
}

class Machine {
public:
    Machine(std::string_view data, const std::string& where, const Limits& limits)
        : m_data(data)
        , m_where(where)
        , m_limits(limits)
    {
    }

    // Object graphs are shared_ptr trees. A hostile stream can build cycles (a list appended to itself through the
    // memo) or very deep nesting; shared_ptr would leak the first and overflow the stack freeing the second. So every
    // object is registered when created, adopt() accepts only an acyclic result of bounded depth, and the destructor
    // takes apart every object that is not part of the accepted result without recursion.
    ~Machine()
    {
        std::vector<Value> hold;
        for (auto& w : m_all)
            if (auto v = w.lock(); v && !m_keep.count(v.get()))
                hold.push_back(std::move(v));
        for (auto& v : hold) {
            v->items.clear();
            v->dict.clear();
        }
    }

    // Checks the graph under root (iteratively) and marks it as the result.
    void adopt(const Value& root, size_t maxNesting)
    {
        enum : uint8_t { Open = 1, Done = 2 };
        std::unordered_map<const Object*, uint8_t> state;
        struct Frame {
            const Object* obj;
            size_t next;
        };
        std::vector<Frame> path;
        auto child = [](const Object* o, size_t k) -> const Object* {
            if (k < o->items.size())
                return o->items[k].get();
            k -= o->items.size();
            if (k / 2 < o->dict.size())
                return (k % 2 ? o->dict[k / 2].second : o->dict[k / 2].first).get();
            return reinterpret_cast<const Object*>(-1);
        };
        if (root) {
            state[root.get()] = Open;
            path.push_back({ root.get(), 0 });
        }
        while (!path.empty()) {
            Frame& f = path.back();
            const Object* c = child(f.obj, f.next++);
            if (c == reinterpret_cast<const Object*>(-1)) {
                state[f.obj] = Done;
                path.pop_back();
                continue;
            }
            if (!c)
                continue;
            auto& st = state[c];
            if (st == Open)
                fail(ErrorKind::Format,
                    m_where
                        + ": malformed pickle: an object contains itself (reference cycle); weights files never do");
            if (st == Done)
                continue;
            if (path.size() >= maxNesting)
                fail(ErrorKind::Format,
                    m_where + ": malformed pickle: objects nested more than " + std::to_string(maxNesting) + " deep");
            st = Open;
            path.push_back({ c, 0 });
        }
        for (auto& [o, st] : state)
            m_keep.insert(o);
    }

    Value make(Object::Type t)
    {
        auto v = makeObject(t);
        m_all.push_back(v);
        return v;
    }

    // Runs the opcodes to STOP (PickleRun.cpp) and returns what is left on the stack.
    Value run();

private:
    // One opcode each (PickleRun.cpp); false when the opcode is not theirs.
    bool stackOp(uint8_t op);
    bool valueOp(uint8_t op);
    bool numberOp(uint8_t op);
    bool buildOp(uint8_t op);

public:
private:
    [[noreturn]] void bad(const std::string& why) const
    {
        fail(ErrorKind::Format, m_where + ": malformed pickle at byte " + std::to_string(m_pos) + ": " + why);
    }

    uint8_t u8()
    {
        if (m_pos >= m_data.size())
            bad("unexpected end of data (truncated file?)");
        return static_cast<uint8_t>(m_data[m_pos++]);
    }
    uint16_t u16()
    {
        uint16_t v = u8();
        return static_cast<uint16_t>(v | (u8() << 8));
    }
    uint32_t u32()
    {
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k)
            v |= static_cast<uint32_t>(u8()) << (8 * k);
        return v;
    }
    uint64_t u64()
    {
        uint64_t v = 0;
        for (int k = 0; k < 8; ++k)
            v |= static_cast<uint64_t>(u8()) << (8 * k);
        return v;
    }
    std::string_view bytes(uint64_t n)
    {
        if (n > m_data.size() - m_pos)
            bad("a string of " + std::to_string(n) + " bytes runs past the end of the data");
        auto s = m_data.substr(m_pos, n);
        m_pos += n;
        return s;
    }
    std::string line()
    {
        auto end = m_data.find('\n', m_pos);
        if (end == std::string_view::npos || end - m_pos > 4096)
            bad("unterminated text field");
        std::string s(m_data.substr(m_pos, end - m_pos));
        m_pos = end + 1;
        return s;
    }
    int64_t parseInt(const std::string& s)
    {
        try {
            size_t used = 0;
            int64_t v = std::stoll(s, &used);
            if (used != s.size())
                bad("bad integer text");
            return v;
        } catch (const std::logic_error&) {
            bad("bad integer text");
        }
    }

    void count()
    {
        if (++m_created > m_limits.maxItems)
            fail(ErrorKind::Security,
                m_where + ": refused: the pickle creates more than " + std::to_string(m_limits.maxItems) + " objects");
    }
    void push(Value v)
    {
        count();
        if (m_stack.size() > m_limits.maxDepth * 100)
            fail(ErrorKind::Security, m_where + ": refused: pickle stack grows without bound");
        m_stack.push_back(std::move(v));
    }
    Value pop()
    {
        if (m_stack.empty() || (!m_marks.empty() && m_stack.size() <= m_marks.back()))
            bad("stack underflow");
        Value v = m_stack.back();
        m_stack.pop_back();
        return v;
    }
    Value top()
    {
        if (m_stack.empty())
            bad("stack underflow");
        return m_stack.back();
    }
    std::vector<Value> popMark()
    {
        if (m_marks.empty())
            bad("no MARK on the stack");
        size_t m = m_marks.back();
        m_marks.pop_back();
        if (m > m_stack.size())
            bad("MARK beyond the stack");
        std::vector<Value> items(m_stack.begin() + static_cast<std::ptrdiff_t>(m), m_stack.end());
        m_stack.resize(m);
        return items;
    }
    void memoPut(uint64_t idx)
    {
        if (idx > 100000000)
            bad("memo index too large");
        if (m_memo.size() <= idx)
            m_memo.resize(idx + 1);
        m_memo[idx] = top();
    }
    Value memoGet(uint64_t idx)
    {
        if (idx >= m_memo.size() || !m_memo[idx])
            bad("memo entry " + std::to_string(idx) + " read before it was written");
        return m_memo[idx];
    }
    Value str(uint64_t n)
    {
        auto v = make(Object::Type::Str);
        v->s = std::string(bytes(n));
        return v;
    }
    Value byt(uint64_t n)
    {
        auto v = make(Object::Type::Bytes);
        v->s = std::string(bytes(n));
        return v;
    }
    Value integer(int64_t i)
    {
        auto v = make(Object::Type::Int);
        v->i = i;
        return v;
    }
    Value longInt(uint64_t n)
    {
        if (n > 8)
            bad("integer wider than 64 bits");
        auto b = bytes(n);
        int64_t v = 0;
        for (size_t k = 0; k < n; ++k)
            v |= static_cast<int64_t>(static_cast<uint8_t>(b[k])) << (8 * k);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80))
            v -= static_cast<int64_t>(1) << (8 * n);
        return integer(v);
    }

    Value global(const std::string& module, const std::string& name)
    {
        const std::string full = module + "." + name;
        auto v = make(Object::Type::Global);
        v->s = full;
        if (isStorageType(module, name))
            return v;
        if (isDType(module, name)) {
            v->type = Object::Type::DType;
            v->s = name;
            return v;
        }
        if (tensorGlobals().count(full) || opaqueGlobals().count(full))
            return v;
        fail(ErrorKind::Security,
            m_where + ": refused: the pickle references " + full
                + ", which a weights file has no reason to use (only tensors and plain containers are allowed). "
                  "Nothing was executed. If you trust this file, convert it to .safetensors with the tool that made "
                  "it.");
    }

    Value persistent(const Value& pid)
    {
        // ('storage', torch.FloatStorage, key, location, numel)
        if (pid->type != Object::Type::Tuple || pid->items.size() < 5 || pid->items[0]->type != Object::Type::Str
            || pid->items[0]->s != "storage" || pid->items[1]->type != Object::Type::Global
            || pid->items[2]->type != Object::Type::Str || pid->items[4]->type != Object::Type::Int)
            bad("unsupported persistent id (expected a torch storage reference)");
        auto v = make(Object::Type::Storage);
        std::string cls = pid->items[1]->s; // torch.FloatStorage
        cls = cls.substr(cls.find('.') + 1);
        v->storage.dtype = cls.substr(0, cls.size() - std::strlen("Storage"));
        v->storage.key = pid->items[2]->s;
        v->storage.numel = pid->items[4]->i;
        if (v->storage.numel < 0)
            bad("negative storage size");
        return v;
    }

    static std::vector<int64_t> ints(const Value& t, const char* what, Machine* m)
    {
        if (t->type != Object::Type::Tuple && t->type != Object::Type::List)
            m->bad(std::string(what) + " is not a tuple");
        std::vector<int64_t> out;
        for (auto& x : t->items) {
            if (x->type != Object::Type::Int || x->i < 0)
                m->bad(std::string(what) + " holds a non-integer or negative value");
            out.push_back(x->i);
        }
        return out;
    }

    Value reduce(const Value& fn, const Value& args)
    {
        if (fn->type != Object::Type::Global)
            bad("REDUCE on something that is not an allowed global");
        if (args->type != Object::Type::Tuple)
            bad("REDUCE arguments are not a tuple");
        const std::string& g = fn->s;
        if (g == "collections.OrderedDict")
            return make(Object::Type::Dict);
        if (g == "builtins.set" || g == "__builtin__.set" || g == "builtins.frozenset") {
            auto v = make(Object::Type::List);
            if (!args->items.empty() && args->items[0]->type == Object::Type::List)
                v->items = args->items[0]->items;
            return v;
        }
        if (g == "torch._utils._rebuild_tensor_v2" || g == "torch._utils._rebuild_tensor_v3") {
            if (args->items.size() < 4 || args->items[0]->type != Object::Type::Storage
                || args->items[1]->type != Object::Type::Int)
                bad("_rebuild_tensor arguments are not (storage, offset, size, stride, ...)");
            auto v = make(Object::Type::Tensor);
            v->tensor.storage = args->items[0]->storage;
            v->tensor.offset = args->items[1]->i;
            v->tensor.size = ints(args->items[2], "tensor size", this);
            v->tensor.stride = ints(args->items[3], "tensor stride", this);
            if (v->tensor.size.size() != v->tensor.stride.size())
                bad("tensor size and stride differ in length");
            if (g == "torch._utils._rebuild_tensor_v3" && args->items.size() >= 7
                && args->items[6]->type == Object::Type::DType)
                v->tensor.storage.dtype = "dtype:" + args->items[6]->s;
            return v;
        }
        if (g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state") {
            if (args->items.empty() || args->items[0]->type != Object::Type::Tensor)
                bad("_rebuild_parameter without a tensor");
            return args->items[0];
        }
        // Every other global that got past global() is harmless metadata: keep it as an opaque value, never call it.
        auto v = make(Object::Type::Opaque);
        v->s = g;
        return v;
    }

    void setItem(const Value& d, const Value& k, const Value& v)
    {
        if (d->type == Object::Type::Opaque)
            return;
        if (d->type != Object::Type::Dict)
            bad("SETITEM on something that is not a dict");
        d->dict.emplace_back(k, v);
    }
    void append(const Value& l, const Value& v)
    {
        if (l->type == Object::Type::Opaque)
            return;
        if (l->type != Object::Type::List)
            bad("APPEND on something that is not a list");
        l->items.push_back(v);
    }

    std::string_view m_data;
    const std::string& m_where;
    Limits m_limits;
    size_t m_pos = 0;
    size_t m_created = 0;
    std::vector<std::weak_ptr<Object>> m_all;
    std::unordered_set<const Object*> m_keep;
    std::vector<Value> m_stack;
    std::vector<size_t> m_marks;
    std::vector<Value> m_memo;
};

} // namespace ls::io::pickle::detail
